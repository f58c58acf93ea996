"""Accuracy jobs: the evaluation images, preprocessed per model, scored against their labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.datasets.layouts import load_imagenet
from bench.datasets.preprocess import PreprocessSpec
from bench.datasets.scoring import topk_accuracy
from bench.datasets.subsets import Subset, SubsetRule, eval_subset
from bench.datasets.tensor_cache import Preprocessed, preprocessed
from bench.devices.base import AccuracyInputs
from bench.results.records import AccuracyResult


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalImages:
    """The evaluation subset of one run, preprocessed on demand per preprocessing spec."""

    subset: Subset
    cache_root: Path

    def prepared(self, spec: PreprocessSpec) -> Preprocessed:
        return preprocessed(self.subset.images, spec, self.cache_root)

    def inputs(self, spec: PreprocessSpec) -> tuple[AccuracyInputs, Preprocessed]:
        data = self.prepared(spec)
        assert data.pixels_path is not None  # always cached: a runner in another process reads the file
        normalized = not spec.normalization_in_graph
        return AccuracyInputs(pixels_npy=data.pixels_path, mean=spec.mean if normalized else None,
                              std=spec.std if normalized else None, label_offset=spec.label_offset), data


def eval_images(imagenet: Path, count: int | None, rule: str, cache_root: Path) -> EvalImages:
    subset = eval_subset(load_imagenet(imagenet).images, count, SubsetRule(rule))
    return EvalImages(subset=subset, cache_root=cache_root)


def score(top5: np.ndarray, data: Preprocessed, subset: Subset,
          reference: dict[str, int] | None) -> AccuracyResult:
    """Return top-1/top-5 over the decodable images, and agreement with the reference's first choices."""
    accuracy = topk_accuracy(top5, data.labels)
    agreement = None
    if reference is not None:
        shared = [(row[0], reference[name]) for row, name in zip(top5, data.names, strict=True) if name in reference]
        agreement = float(np.mean([a == b for a, b in shared])) if shared else None
    return AccuracyResult(
        top1=accuracy["top1"], top5=accuracy["top5"], images=len(data.names), subset=subset.to_dict(),
        failed_images=len(data.failed), top1_agreement_with_fp32=agreement,
        predictions_top5=tuple(tuple(int(c) for c in row) for row in top5),
    )


def first_choices(result: AccuracyResult, names: tuple[str, ...]) -> dict[str, int]:
    return {name: row[0] for name, row in zip(names, result.predictions_top5, strict=True)}
