"""Deterministic image subsets, and a calibration split disjoint from every evaluation subset.

The calibration split (images for INT8 calibration and pruning fine-tuning) is the first
`calibration_size(n)` images in the order of sha256(image name): spread over classes, independent of
how the folder was listed, and the same on every machine. Evaluation subsets are drawn from the rest.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.datasets.layouts import LabeledImage

CALIBRATION_SPLIT_MAX = 300


class SubsetRule(enum.Enum):
    FIRST = "first"  # the first N in sorted name order
    PER_CLASS = "per-class"  # N spread evenly over classes, round-robin in class order


@dataclass(frozen=True, slots=True, kw_only=True)
class Subset:
    """Which images a result used: enough to name them again, and a hash to check it."""

    split: str  # "eval" or "calibration"
    rule: SubsetRule
    requested: int | None  # None = all of the split
    count: int
    names_sha256: str
    images: tuple[LabeledImage, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "rule": self.rule.value,
            "requested": self.requested,
            "count": self.count,
            "names_sha256": self.names_sha256,
            "calibration_split_rule": f"first min({CALIBRATION_SPLIT_MAX}, n // 4) images by sha256(name)",
        }


def names_digest(images: Sequence[LabeledImage]) -> str:
    """Return sha256 over the newline-joined image names, in the given order."""
    return hashlib.sha256("\n".join(image.name for image in images).encode()).hexdigest()


def calibration_size(total: int) -> int:
    return min(CALIBRATION_SPLIT_MAX, total // 4)


def split_calibration(images: Sequence[LabeledImage]) -> tuple[list[LabeledImage], list[LabeledImage]]:
    """Return (calibration, evaluation), both sorted by name and disjoint."""
    by_hash = sorted(images, key=lambda image: hashlib.sha256(image.name.encode()).hexdigest())
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


def calibration_subset(images: Sequence[LabeledImage], count: int | None) -> Subset:
    """Return `count` calibration images, spread over classes, from the calibration split."""
    calibration, _ = split_calibration(images)
    chosen = take(calibration, count, SubsetRule.PER_CLASS)
    return Subset(split="calibration", rule=SubsetRule.PER_CLASS, requested=count, count=len(chosen),
                  names_sha256=names_digest(chosen), images=tuple(chosen))
