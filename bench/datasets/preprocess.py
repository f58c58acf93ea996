"""Preprocessing declared per model and applied at any resolution.

The official EfficientNet-Lite evaluation: centre crop of 0.875 x the shorter side, bicubic resize
to the input size, RGB, (x - 127) / 128. A crop is taken before the resize, as TensorFlow's
`_decode_and_center_crop` does: crop side = int(crop_fraction * min(height, width)).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DatasetError


class ResizeFilter(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"

    def pil(self) -> int:
        from PIL import Image

        return int(getattr(Image.Resampling, self.name))


class ChannelOrder(enum.Enum):
    RGB = "rgb"
    BGR = "bgr"


@dataclass(frozen=True, slots=True, kw_only=True)
class PreprocessSpec:
    input_size: int = 224
    crop_fraction: float = 0.875
    resize_filter: ResizeFilter = ResizeFilter.BICUBIC
    channel_order: ChannelOrder = ChannelOrder.RGB
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)
    # True when the model normalises inside its graph and takes raw pixels in [0, 255].
    normalization_in_graph: bool = True
    # 1001 = a background class at index 0 (TF-Slim models); labels then shift by one.
    num_classes: int = 1000

    def __post_init__(self) -> None:
        if self.input_size < 8 or not 0.0 < self.crop_fraction <= 1.0 or self.num_classes not in (1000, 1001):
            raise DatasetError(f"invalid preprocessing spec {self}; check the model's preprocessing settings")

    @property
    def label_offset(self) -> int:
        return self.num_classes - 1000

    def at_resolution(self, input_size: int) -> PreprocessSpec:
        return replace(self, input_size=input_size)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["resize_filter"] = self.resize_filter.value
        data["channel_order"] = self.channel_order.value
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        try:
            return cls(
                input_size=int(data["input_size"]),
                crop_fraction=float(data["crop_fraction"]),
                resize_filter=ResizeFilter(data["resize_filter"]),
                channel_order=ChannelOrder(data["channel_order"]),
                mean=_triple(data["mean"]),
                std=_triple(data["std"]),
                normalization_in_graph=bool(data["normalization_in_graph"]),
                num_classes=int(data["num_classes"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise DatasetError(f"invalid preprocessing spec {data!r}: {exc}") from exc


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return (a, b, c)


def load_pixels(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """Decode one image and return its centre crop as uint8 (size, size, 3) in the spec's channel order."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    return crop_and_resize(rgb, spec)


def crop_and_resize(rgb: Any, spec: PreprocessSpec) -> np.ndarray:
    """Apply the spec's centre crop and resize to a PIL RGB image."""
    width, height = rgb.size
    side = max(1, int(spec.crop_fraction * min(width, height)))
    left, top = (width - side) // 2, (height - side) // 2
    cropped = rgb.resize(
        (spec.input_size, spec.input_size), spec.resize_filter.pil(), box=(left, top, left + side, top + side)
    )
    pixels = np.asarray(cropped, dtype=np.uint8)
    return pixels[..., ::-1].copy() if spec.channel_order is ChannelOrder.BGR else pixels


def model_input(pixels: np.ndarray, spec: PreprocessSpec, dtype: np.dtype[Any]) -> np.ndarray:
    """Turn uint8 pixels into what the model's input tensor takes."""
    if spec.normalization_in_graph:
        return pixels.astype(dtype)
    normalized = (pixels.astype(np.float32) - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return normalized.astype(dtype)
