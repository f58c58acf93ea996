"""Run an image classifier `.tflite` on the host with LiteRT and return its top-k classes.

Inputs are uint8 pixels already cropped and resized; this module only adapts them to the model's
input tensor (float pixels, normalised floats, or quantised integers per the tensor's own
quantisation) and reads the output back as class scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ModelError

# Float pixels -> what the float model expects (identity when the graph normalises).
Normalize = Callable[[np.ndarray], np.ndarray]


def pixel_normalizer(mean: Sequence[float] | None, std: Sequence[float] | None) -> Normalize:
    """(x - mean) / std per channel; the identity when the model normalises in its own graph (None)."""
    if mean is None or std is None:
        return lambda x: x
    m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return lambda x: np.asarray((x - m) / s, np.float32)


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Quantise float values with the tensor's (scale, zero point), saturating to its integer type."""
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.asarray(np.clip(np.round(values / scale + zero_point), info.min, info.max), dtype=detail["dtype"])


def to_input(pixels: np.ndarray, detail: dict[str, Any], normalize: Normalize) -> np.ndarray:
    """Turn uint8 pixels (1, H, W, 3) into the input tensor's dtype and scale.

    `normalize` maps float pixels to what the float model expects (identity when the graph normalises).
    """
    values = normalize(pixels.astype(np.float32))
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return values.astype(np.float32)
    scale, _ = detail["quantization"]
    if not scale:
        raise ModelError(f"input {detail['name']} is {dtype} without quantisation parameters; cannot feed pixels")
    return quantize(values, detail)


def scores(output: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Return float class scores from an output tensor, dequantised if needed."""
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]) != np.float32 and scale:
        return np.asarray((output.astype(np.float32) - zero_point) * scale, dtype=np.float32)
    return np.asarray(output, dtype=np.float32)


def best_classes(vector: np.ndarray, k: int = 5, label_offset: int = 0) -> np.ndarray:
    """Return the k best class indices, best first, with the background class (if any) dropped.

    A stable sort: ties, frequent in quantised outputs, resolve to the lower class index.
    """
    return np.argsort(-vector[label_offset:], kind="stable")[:k]


def iterate_scores(
    model_path: Path, pixels: np.ndarray, *, normalize: Normalize, num_threads: int = 1
) -> Iterator[np.ndarray]:
    """Yield the score vector of each image, one invoke per image (batch 1, as on a phone)."""
    from bench.engines.litert import load_interpreter

    interpreter = load_interpreter(model_path, num_threads=num_threads)
    detail = interpreter.get_input_details()[0]
    shape = tuple(int(s) for s in detail["shape"])
    if len(pixels) and shape[1:3] != pixels.shape[1:3]:
        if tuple(int(s) for s in detail["shape_signature"])[1] != -1:
            raise ModelError(f"{model_path} takes {shape[1]}x{shape[2]} inputs, given {pixels.shape[1:3]}")
        interpreter.resize_tensor_input(detail["index"], [1, *pixels.shape[1:]], strict=True)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
    output = interpreter.get_output_details()[0]
    for image in pixels:
        interpreter.set_tensor(detail["index"], to_input(image[np.newaxis], detail, normalize))
        interpreter.invoke()
        yield scores(interpreter.get_tensor(output["index"])[0], output)


def top_k(model_path: Path, pixels: np.ndarray, *, normalize: Normalize, k: int = 5, label_offset: int = 0,
          num_threads: int = 1) -> np.ndarray:
    """Return (N, k) class indices, best first, in the 1,000-class space (background class dropped)."""
    rows = [best_classes(vector, k, label_offset)
            for vector in iterate_scores(model_path, pixels, normalize=normalize, num_threads=num_threads)]
    return np.asarray(rows, np.int64).reshape(len(rows), k)
