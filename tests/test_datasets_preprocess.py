from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.datasets.fallback import fallback_pixels
from bench.datasets.layouts import load_imagenet
from bench.datasets.preprocess import ChannelOrder, PreprocessSpec, ResizeFilter, crop_and_resize, load_pixels
from bench.datasets.tensor_cache import preprocessed
from bench.errors import DatasetError
from tests.imagefixtures import class_folders


def test_centre_crop_takes_the_middle_of_the_shorter_side() -> None:
    # 100 x 80 image: left half red, right half blue, with a green 10-pixel border all round.
    pixels = np.zeros((80, 100, 3), np.uint8)
    pixels[:, :50, 0] = 255
    pixels[:, 50:, 2] = 255
    pixels[:10, :, :] = pixels[-10:, :, :] = (0, 255, 0)
    pixels[:, :10, :] = pixels[:, -10:, :] = (0, 255, 0)
    spec = PreprocessSpec(input_size=70, crop_fraction=0.875, resize_filter=ResizeFilter.NEAREST)
    out = crop_and_resize(Image.fromarray(pixels), spec)
    # crop side int(0.875 * 80) = 70, so a 70 x 70 crop at (15, 5): the border is cut off on top/bottom rows 0-4
    assert out.shape == (70, 70, 3)
    assert (out[5:-5, 0] == (255, 0, 0)).all() and (out[5:-5, -1] == (0, 0, 255)).all()
    assert (out[0, 20] == (0, 255, 0)).all()  # rows 5..9 of the original are border


def test_bgr_swaps_channels(tmp_path: Path) -> None:
    path = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(path)
    rgb = load_pixels(path, PreprocessSpec(input_size=16))
    bgr = load_pixels(path, PreprocessSpec(input_size=16, channel_order=ChannelOrder.BGR))
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(bgr[0, 0]) == (0, 0, 255)


def test_spec_round_trips_and_rejects_nonsense() -> None:
    spec = PreprocessSpec(input_size=160, channel_order=ChannelOrder.BGR, num_classes=1001)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    assert spec.label_offset == 1
    with pytest.raises(DatasetError):
        PreprocessSpec(crop_fraction=1.5)


def test_tensor_cache_hits_and_sees_changed_files(tmp_path: Path) -> None:
    images = load_imagenet(class_folders(tmp_path / "val")).images
    spec = PreprocessSpec(input_size=32)
    first = preprocessed(images, spec, tmp_path / "cache")
    second = preprocessed(images, spec, tmp_path / "cache")
    assert not first.cache_hit and second.cache_hit
    assert np.array_equal(first.pixels, second.pixels) and first.names == second.names
    assert first.pixels.shape == (12, 32, 32, 3) and first.pixels.dtype == np.uint8
    other_size = preprocessed(images, spec.at_resolution(24), tmp_path / "cache")
    assert not other_size.cache_hit and other_size.pixels.shape[1] == 24
    stat = images[0].path.stat()
    os.utime(images[0].path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not preprocessed(images, spec, tmp_path / "cache").cache_hit


def test_undecodable_images_are_listed_not_fatal(tmp_path: Path) -> None:
    index = load_imagenet(class_folders(tmp_path / "val"))
    index.images[3].path.write_bytes(b"not a jpeg")
    result = preprocessed(index.images, PreprocessSpec(input_size=16), None)
    assert len(result.pixels) == 11 and [name for name, _ in result.failed] == [index.images[3].name]
    assert len(result.labels) == 11


def test_fallback_calibration_is_real_varied_and_seeded() -> None:
    spec = PreprocessSpec(input_size=64)
    a, b = fallback_pixels(8, spec), fallback_pixels(8, spec)
    assert a.shape == (8, 64, 64, 3) and np.array_equal(a, b)
    assert len({x.tobytes() for x in a}) == 8  # every view differs
    assert 20 < a.std() < 120  # a photograph, not a constant or noise-free field
