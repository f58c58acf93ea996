"""Calibration images for a machine without ImageNet: real photos that ship inside our dependencies.

The only real photograph among our dependencies' files is matplotlib's sample image
`grace_hopper.jpg` (512x600, a portrait). Calibration wants many varied inputs, so it is taken at
deterministic random crops (8-100% of its area, aspect 3:4 to 4:3) and flips. This is enough to
set INT8 ranges to something sane, but it is a poorer calibration than ImageNet images: every
manifest built this way says so, and results quote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.preprocess import PreprocessSpec

FALLBACK_DESCRIPTION = "matplotlib sample_data/grace_hopper.jpg at seeded random crops and flips"


def fallback_photo_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def fallback_pixels(count: int, spec: PreprocessSpec, seed: int = 0) -> np.ndarray:
    """Return `count` uint8 (size, size, 3) views of the fallback photo, the same for the same seed."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    with Image.open(fallback_photo_path()) as image:
        photo = image.convert("RGB")
    width, height = photo.size
    out = np.empty((count, spec.input_size, spec.input_size, 3), np.uint8)
    for i in range(count):
        area = rng.uniform(0.08, 1.0) * width * height
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        w = int(min(width, round((area * aspect) ** 0.5)))
        h = int(min(height, round((area / aspect) ** 0.5)))
        left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        view: Any = photo.resize((spec.input_size, spec.input_size), spec.resize_filter.pil(),
                                 box=(left, top, left + w, top + h))
        if rng.random() < 0.5:
            view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = np.asarray(view, np.uint8)
        out[i] = pixels[..., ::-1] if spec.channel_order.value == "bgr" else pixels
    return out
