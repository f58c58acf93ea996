"""Accuracy from top-k predictions: top-1, top-5, and agreement between two models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.datasets.preprocess import PreprocessSpec


def normalizer(spec: PreprocessSpec) -> Callable[[np.ndarray], np.ndarray]:
    """Return the float-pixel transform a model's input expects (identity if it normalises itself)."""
    if spec.normalization_in_graph:
        return lambda x: x
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    return lambda x: (x - mean) / std


def topk_accuracy(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return top-1 and top-5 (fractions) of (N, >=5) predictions against (N,) labels."""
    if len(labels) == 0:
        return {"top1": float("nan"), "top5": float("nan")}
    hits = predictions == labels[:, np.newaxis]
    return {"top1": float(hits[:, 0].mean()), "top5": float(hits[:, :5].any(axis=1).mean())}


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of images where two models' first choices agree."""
    return float(np.mean(a[:, 0] == b[:, 0])) if len(a) else float("nan")
