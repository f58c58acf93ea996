"""Tiny ImageNet-like folders written on the fly, in each layout bench reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.datasets.classes import imagenet_classes

# (file name, class index): 12 images over 4 classes, including class 0 and class 999.
IMAGES = [(f"ILSVRC2012_val_{i + 1:08d}.JPEG", label) for i, label in
          enumerate([0, 0, 0, 1, 1, 1, 500, 500, 500, 999, 999, 999])]


def _photo(path: Path, seed: int, size: tuple[int, int] = (64, 48)) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


def class_folders(root: Path, with_mapping: bool = True) -> Path:
    synsets = imagenet_classes().synsets
    for seed, (name, label) in enumerate(IMAGES):
        folder = root / synsets[label]
        folder.mkdir(parents=True, exist_ok=True)
        _photo(folder / name, seed)
    if with_mapping:
        names = imagenet_classes().names
        (root / "LOC_synset_mapping.txt").write_text(
            "".join(f"{s} {n}\n" for s, n in zip(synsets, names, strict=True)))
    return root


def flat_val_txt(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for seed, (name, _) in enumerate(IMAGES):
        _photo(root / name, seed)
    (root / "val.txt").write_text("".join(f"{name} {label}\n" for name, label in IMAGES))
    return root


def kaggle_csv(root: Path, image_dir: str = "ILSVRC/Data/CLS-LOC/val") -> Path:
    synsets = imagenet_classes().synsets
    folder = root / image_dir
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (name, _) in enumerate(IMAGES):
        _photo(folder / name, seed)
    rows = ["ImageId,PredictionString"] + [
        f"{name.removesuffix('.JPEG')},{synsets[label]} 1 2 30 40 {synsets[label]} 5 6 20 30" for name, label in IMAGES
    ]
    (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    return root


# A colour per class: a model that reads the mean colour can be right on every image.
COLOURS = {0: (220, 30, 30), 1: (30, 220, 30), 500: (30, 30, 220), 999: (220, 220, 30)}


def coloured_class_folders(root: Path) -> Path:
    """The class-folder layout of IMAGES, each image its class's colour with a little noise."""
    synsets = imagenet_classes().synsets
    for seed, (name, label) in enumerate(IMAGES):
        folder = root / synsets[label]
        folder.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(seed).integers(-20, 21, (48, 64, 3))
        pixels = np.clip(np.asarray(COLOURS[label]) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name, "JPEG", quality=90)
    return root
