"""`bench datasets check`: what is in an ImageNet folder, and what in it cannot be used."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets.layouts import LabeledImage, load_imagenet
from bench.progress import progress


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    root: Path
    layout: str
    images: int
    classes: int
    unreadable: tuple[tuple[str, str], ...]
    unknown: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def usable_images(self) -> int:
        return self.images - len(self.unreadable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "images": self.images,
            "usable_images": self.usable_images,
            "classes": self.classes,
            "unreadable": [{"name": name, "reason": reason} for name, reason in self.unreadable],
            "unknown": list(self.unknown),
            "missing": list(self.missing),
        }


def _verify(image: LabeledImage) -> str | None:
    from PIL import Image

    try:
        with Image.open(image.path) as handle:
            handle.convert("RGB")  # a full decode: verify() alone misses truncated data
    except (OSError, ValueError, SyntaxError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_dataset(root: Path, workers: int | None = None) -> CheckReport:
    """Index `root`, decode every image on all cores, and report what is there."""
    index = load_imagenet(root)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        reasons = list(progress(pool.map(_verify, index.images), total=len(index.images), desc="check"))
    unreadable = tuple((image.name, reason) for image, reason in zip(index.images, reasons, strict=True) if reason)
    return CheckReport(
        root=index.root,
        layout=index.layout.value,
        images=len(index.images),
        classes=index.class_count,
        unreadable=unreadable,
        unknown=index.unknown,
        missing=index.missing,
    )
