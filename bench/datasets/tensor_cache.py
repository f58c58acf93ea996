"""Preprocessed uint8 tensors, decoded in parallel and cached on disk.

The cache key is the image set (names, sizes, modification times) plus everything in the
preprocessing that changes pixels (resolution, crop, filter, channel order), so a second run
decodes nothing and a changed file is never served stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.datasets.layouts import LabeledImage
from bench.datasets.preprocess import PreprocessSpec, load_pixels
from bench.fileio import atomic_directory
from bench.progress import progress

log = logging.getLogger(__name__)

_CACHE_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Preprocessed:
    pixels: np.ndarray  # uint8 (N, size, size, 3)
    labels: np.ndarray  # int64 (N,), standard 1,000-class indices
    names: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (name, reason) of images that could not be decoded
    cache_hit: bool
    pixels_path: Path | None = None  # the cached .npy of `pixels`, for a runner in another process


def cache_key(images: Sequence[LabeledImage], spec: PreprocessSpec) -> str:
    digest = hashlib.sha256()
    pixel_spec = (spec.input_size, spec.crop_fraction, spec.resize_filter.value, spec.channel_order.value)
    digest.update(json.dumps({"format": _CACHE_FORMAT, "spec": pixel_spec}).encode())
    for image in images:
        stat = image.path.stat()
        digest.update(f"\n{image.name}\t{image.label}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _decode(image: LabeledImage, spec: PreprocessSpec) -> np.ndarray | str:
    try:
        return load_pixels(image.path, spec)
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises these for truncated or bad files
        return f"{type(exc).__name__}: {exc}"


def decode_all(
    images: Sequence[LabeledImage], spec: PreprocessSpec, workers: int | None = None
) -> Preprocessed:
    """Decode and preprocess every image on all cores; undecodable images are listed, not fatal."""
    workers = workers or os.cpu_count() or 1
    pixels: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    failed: list[tuple[str, str]] = []
    # Pillow releases the GIL while decoding and resizing, so threads use every core.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        decoded = pool.map(lambda image: _decode(image, spec), images)
        for image, result in zip(images, progress(decoded, total=len(images), desc="decode"), strict=True):
            if isinstance(result, str):
                failed.append((image.name, result))
                continue
            pixels.append(result)
            labels.append(image.label)
            names.append(image.name)
    size = spec.input_size
    stacked = np.stack(pixels) if pixels else np.zeros((0, size, size, 3), np.uint8)
    return Preprocessed(pixels=stacked, labels=np.asarray(labels, np.int64), names=tuple(names),
                        failed=tuple(failed), cache_hit=False)


def preprocessed(
    images: Sequence[LabeledImage], spec: PreprocessSpec, cache_root: Path | None, workers: int | None = None
) -> Preprocessed:
    """Return the images preprocessed by `spec`, from the cache under `cache_root` when present."""
    if cache_root is None:
        return decode_all(images, spec, workers)
    folder = cache_root / "preprocessed" / cache_key(images, spec)
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text())
        log.debug("preprocessed-tensor cache hit %s", folder)
        return Preprocessed(
            pixels=np.load(folder / "pixels.npy", mmap_mode="r"),
            labels=np.load(folder / "labels.npy"),
            names=tuple(meta["names"]),
            failed=tuple((name, reason) for name, reason in meta["failed"]),
            cache_hit=True,
            pixels_path=folder / "pixels.npy",
        )
    result = decode_all(images, spec, workers)
    with atomic_directory(folder) as tmp:
        np.save(tmp / "pixels.npy", result.pixels)
        np.save(tmp / "labels.npy", result.labels)
        (tmp / "meta.json").write_text(json.dumps({"names": result.names, "failed": result.failed,
                                                   "spec": spec.to_dict()}))
    return replace(result, pixels_path=folder / "pixels.npy")
