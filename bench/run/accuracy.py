"""Accuracy jobs: the evaluation images, preprocessed per model, scored against their labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.layouts import load_imagenet
from bench.datasets.manifests import load_manifest, select_images
from bench.datasets.preprocess import PreprocessSpec
from bench.datasets.scoring import topk_accuracy
from bench.datasets.subsets import Subset, SubsetRule, eval_subset, named_subset
from bench.datasets.tensor_cache import Preprocessed, preprocessed
from bench.devices.base import AccuracyInputs
from bench.results.records import AccuracyResult, HostReference


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
        by_name = {image.name: image for image in self.subset.images}
        decoded = [by_name[name] for name in data.names]  # the images that decoded, in scoring order
        return AccuracyInputs(pixels_npy=data.pixels_path, mean=spec.mean if normalized else None,
                              std=spec.std if normalized else None, label_offset=spec.label_offset,
                              image_files=tuple(image.path for image in decoded),
                              labels=tuple(image.label for image in decoded)), data


def eval_images(imagenet: Path, count: int | None, rule: str, cache_root: Path) -> EvalImages:
    """The run's evaluation images: `count` by a rule (first, per-class), or the images a named subset lists."""
    images = load_imagenet(imagenet).images
    if rule in (SubsetRule.FIRST.value, SubsetRule.PER_CLASS.value):
        return EvalImages(subset=eval_subset(images, count, SubsetRule(rule)), cache_root=cache_root)
    manifest = load_manifest(rule)
    subset = named_subset(select_images(images, manifest, imagenet), manifest.record())
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
        failed_images=len(data.failed), unreadable=data.failed, top1_agreement_with_fp32=agreement,
        predictions_top5=tuple(tuple(int(c) for c in row) for row in top5),
        correct_top1="".join("1" if row[0] == label else "0" for row, label in zip(top5, data.labels, strict=True)),
    )


HOST_REFERENCE = "the same model file on the host CPU (LiteRT with XNNPACK), same images"


def host_reference(model: Path, inputs: AccuracyInputs, scores_on_device: np.ndarray,
                   top1_on_device: np.ndarray) -> HostReference:
    """Compare a device's outputs with the host CPU's for the same file and images."""
    from bench.engines.litert_classify import iterate_scores, pixel_normalizer

    pixels = np.load(inputs.pixels_npy, mmap_mode="r")
    normalize = pixel_normalizer(inputs.mean, inputs.std)
    host = np.stack(list(iterate_scores(model, np.asarray(pixels), normalize=normalize)))
    if host.shape != scores_on_device.shape:
        return HostReference(reference=HOST_REFERENCE, error=f"output shapes differ: host {host.shape}, "
                                                             f"device {scores_on_device.shape}")
    host_top1 = np.argmax(host[:, inputs.label_offset:], axis=1)
    return HostReference(reference=HOST_REFERENCE, top1_agreement=float(np.mean(host_top1 == top1_on_device)),
                         mean_abs_output_diff=float(np.mean(np.abs(host - scores_on_device))),
                         max_abs_output_diff=float(np.max(np.abs(host - scores_on_device))))


def score_by_tool(tool: dict[str, Any], data: Preprocessed, subset: Subset) -> AccuracyResult:
    """The accuracy a tool on the device scored by itself (run_eval): no per-image predictions to compare."""
    accuracy = tool["accuracy"]
    scored_by = {k: v for k, v in tool.items() if k not in ("raw_output", "accuracy")}
    scored_by["topk"] = accuracy
    return AccuracyResult(top1=float(accuracy["top1"]), top5=float(accuracy["top5"]), images=int(tool["images"]),
                          subset=subset.to_dict(), failed_images=len(data.failed), unreadable=data.failed,
                          scored_by=scored_by)


def first_choices(result: AccuracyResult, names: tuple[str, ...]) -> dict[str, int]:
    return {name: row[0] for name, row in zip(names, result.predictions_top5, strict=True)}
