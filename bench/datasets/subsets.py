"""Deterministic image subsets, and a calibration split disjoint from every evaluation subset.

The calibration split (images for INT8 calibration and pruning fine-tuning) is the first
`calibration_size(n)` images in the order of sha256(image id), the id being the file name without its
folder or extension ("ILSVRC2012_val_00000293"): spread over classes, independent of how the folder
was listed or laid out, and the same on every machine. Evaluation subsets are drawn from the rest; a
named subset (`datasets/`, `bench.datasets.manifests`) is the evaluation set as it is, and the
calibration split is then drawn from the images outside it.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from bench.datasets.layouts import LabeledImage

CALIBRATION_SPLIT_MAX = 300


class SubsetRule(enum.Enum):
    FIRST = "first"  # the first N in sorted name order
    PER_CLASS = "per-class"  # N spread evenly over classes, round-robin in class order
    MANIFEST = "manifest"  # the images a named subset lists (datasets/*.txt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subset:
    """Which images a result used: enough to name them again, and a hash to check it."""

    split: str  # "eval" or "calibration"
    rule: SubsetRule
    requested: int | None  # None = all of the split
    count: int
    names_sha256: str
    images: tuple[LabeledImage, ...]
    manifest: dict[str, Any] | None = None  # a named subset: its name and the sha256 of its id list

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "rule": self.rule.value,
            "requested": self.requested,
            "count": self.count,
            "names_sha256": self.names_sha256,
            "calibration_split_rule": f"first min({CALIBRATION_SPLIT_MAX}, n // 4) images by sha256(image id)"
                                      + (", of the images outside the named subset" if self.manifest else ""),
            **({"manifest": self.manifest} if self.manifest else {}),
        }


def names_digest(images: Sequence[LabeledImage]) -> str:
    """Return sha256 over the newline-joined image names, in the given order."""
    return hashlib.sha256("\n".join(image.name for image in images).encode()).hexdigest()


def calibration_size(total: int) -> int:
    return min(CALIBRATION_SPLIT_MAX, total // 4)


def image_id(name: str) -> str:
    """The image's id: its file name without folder or extension ("ILSVRC2012_val_00000293"), the same in
    every layout."""
    return PurePosixPath(name).stem


def id_hash(identifier: str) -> str:
    return hashlib.sha256(identifier.encode()).hexdigest()


def split_calibration(images: Sequence[LabeledImage]) -> tuple[list[LabeledImage], list[LabeledImage]]:
    """Return (calibration, evaluation), both sorted by name and disjoint."""
    by_hash = sorted(images, key=lambda image: (id_hash(image_id(image.name)), image.name))
    k = calibration_size(len(images))
    calibration_names = {image.name for image in by_hash[:k]}
    calibration = sorted(by_hash[:k], key=lambda image: image.name)
    evaluation = [image for image in sorted(images, key=lambda i: i.name) if image.name not in calibration_names]
    return calibration, evaluation


def take(images: Sequence[LabeledImage], count: int | None, rule: SubsetRule) -> list[LabeledImage]:
    """Return `count` images (all when None) by `rule`, deterministically."""
    ordered = sorted(images, key=lambda image: image.name)
    if count is None or count >= len(ordered):
        return ordered
    if rule is SubsetRule.FIRST:
        return ordered[:count]
    by_class: dict[int, list[LabeledImage]] = defaultdict(list)
    for image in ordered:
        by_class[image.label].append(image)
    columns = [by_class[label] for label in sorted(by_class)]
    round_robin = (image for row in itertools.zip_longest(*columns) for image in row if image is not None)
    return sorted(itertools.islice(round_robin, count), key=lambda image: image.name)


def eval_subset(images: Sequence[LabeledImage], count: int | None, rule: SubsetRule) -> Subset:
    """Return the evaluation subset: `count` images by `rule` from outside the calibration split."""
    _, evaluation = split_calibration(images)
    chosen = take(evaluation, count, rule)
    return Subset(split="eval", rule=rule, requested=count, count=len(chosen),
                  names_sha256=names_digest(chosen), images=tuple(chosen))


def named_subset(chosen: Sequence[LabeledImage], manifest: dict[str, Any]) -> Subset:
    """The evaluation subset a manifest names (its images found in the folder already)."""
    ordered = sorted(chosen, key=lambda image: image.name)
    return Subset(split="eval", rule=SubsetRule.MANIFEST, requested=len(ordered), count=len(ordered),
                  names_sha256=names_digest(ordered), images=tuple(ordered), manifest=manifest)


def calibration_subset(images: Sequence[LabeledImage], count: int | None,
                       outside: frozenset[str] = frozenset()) -> Subset:
    """Return `count` calibration images, spread over classes, from the calibration split (of the images
    whose ids are not in `outside`: a named evaluation subset's)."""
    calibration, _ = split_calibration([image for image in images if image_id(image.name) not in outside])
    chosen = take(calibration, count, SubsetRule.PER_CLASS)
    return Subset(split="calibration", rule=SubsetRule.PER_CLASS, requested=count, count=len(chosen),
                  names_sha256=names_digest(chosen), images=tuple(chosen))
