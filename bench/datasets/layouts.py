"""Find the ImageNet val images and their labels in the folder layouts users actually have.

Supported layouts (detected in this order):

1. Kaggle: `LOC_val_solution.csv` ("ImageId,PredictionString", the first token of the prediction
   string is the synset) with the images beside it, in `val/`, or in `ILSVRC/Data/CLS-LOC/val/`;
2. Caffe: a flat folder plus `val.txt` ("ILSVRC2012_val_00000001.JPEG 65");
3. class folders: `nXXXXXXXX/*.JPEG`, optionally with `LOC_synset_mapping.txt`.

The label is always the synset's position in the standard sorted 1,000-synset list, never an index
derived from the folders that happen to exist.
"""

from __future__ import annotations

import csv
import enum
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.datasets.classes import imagenet_classes
from bench.errors import DatasetError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png"})
_SYNSET_RE = re.compile(r"^n\d{8}$")
_KAGGLE_IMAGE_DIRS = (".", "val", "ILSVRC/Data/CLS-LOC/val")


class Layout(enum.Enum):
    KAGGLE_CSV = "kaggle-loc-val-solution"
    CAFFE_VAL_TXT = "flat-val-txt"
    CLASS_FOLDERS = "class-folders"


SUPPORTED_LAYOUTS_HELP = (
    "class folders nXXXXXXXX/*.JPEG (+ LOC_synset_mapping.txt); a flat folder + val.txt "
    "('ILSVRC2012_val_00000001.JPEG 65'); a flat folder + Kaggle's LOC_val_solution.csv"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabeledImage:
    path: Path
    name: str  # path relative to the dataset root, with '/' separators: the image's stable id
    label: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetIndex:
    root: Path
    layout: Layout
    images: tuple[LabeledImage, ...]  # sorted by name
    unknown: tuple[str, ...] = field(default=())  # files or folders that are not labelled images
    missing: tuple[str, ...] = field(default=())  # labelled names whose file is absent

    @property
    def class_count(self) -> int:
        return len({image.label for image in self.images})


def detect_layout(root: Path) -> Layout:
    """Return the layout of `root`, or raise DatasetError naming the supported ones."""
    if not root.is_dir():
        raise DatasetError(f"ImageNet folder {root} does not exist; pass --imagenet DIR or set BENCH_IMAGENET")
    if (root / "LOC_val_solution.csv").is_file():
        return Layout.KAGGLE_CSV
    if (root / "val.txt").is_file():
        return Layout.CAFFE_VAL_TXT
    if any(p.is_dir() and _SYNSET_RE.match(p.name) for p in root.iterdir()):
        return Layout.CLASS_FOLDERS
    raise DatasetError(
        f"{root}: no ImageNet val layout found. Supported: {SUPPORTED_LAYOUTS_HELP}; "
        f"check the folder with: python -m bench datasets check {root}"
    )


def load_imagenet(root: Path) -> DatasetIndex:
    """Index the labelled images under `root`, in a stable order (sorted relative names)."""
    root = root.expanduser()
    layout = detect_layout(root)
    if layout is Layout.CLASS_FOLDERS:
        images, unknown, missing = _class_folders(root)
    elif layout is Layout.CAFFE_VAL_TXT:
        images, unknown, missing = _caffe_val_txt(root)
    else:
        images, unknown, missing = _kaggle_csv(root)
    if not images:
        raise DatasetError(f"{root}: layout {layout.value} but no labelled images; check it with bench datasets check")
    images.sort(key=lambda image: image.name)
    return DatasetIndex(
        root=root, layout=layout, images=tuple(images), unknown=tuple(sorted(unknown)), missing=tuple(sorted(missing))
    )


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _class_folders(root: Path) -> tuple[list[LabeledImage], list[str], list[str]]:
    index_of = imagenet_classes().index_of()
    _check_synset_mapping(root / "LOC_synset_mapping.txt")
    images: list[LabeledImage] = []
    unknown: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            if entry.name != "LOC_synset_mapping.txt" and not entry.name.startswith("."):
                unknown.append(entry.name)
            continue
        label = index_of.get(entry.name)
        if label is None:
            unknown.append(entry.name + "/")
            continue
        for file in sorted(entry.iterdir()):
            rel = f"{entry.name}/{file.name}"
            if _is_image(file):
                images.append(LabeledImage(path=file, name=rel, label=label))
            else:
                unknown.append(rel)
    return images, unknown, []


def _check_synset_mapping(mapping: Path) -> None:
    """A mapping file in another order would mean the folders were labelled differently: say so."""
    if not mapping.is_file():
        return
    listed = [line.split(maxsplit=1)[0] for line in mapping.read_text().splitlines() if line.strip()]
    if listed != list(imagenet_classes().synsets):
        raise DatasetError(
            f"{mapping} is not the standard sorted 1,000-synset list; bench labels by the standard order. "
            "Remove or fix that file."
        )


def _labelled_flat(
    folder: Path, labels: dict[str, int], root: Path
) -> tuple[list[LabeledImage], list[str], list[str]]:
    images: list[LabeledImage] = []
    missing: list[str] = []
    for file_name, label in labels.items():
        path = folder / file_name
        rel = path.relative_to(root).as_posix()
        if path.is_file():
            images.append(LabeledImage(path=path, name=rel, label=label))
        else:
            missing.append(rel)
    unknown = [
        p.relative_to(root).as_posix()
        for p in folder.iterdir()
        if p.is_file() and p.name not in labels and not p.name.startswith(".")
        and p.name not in {"val.txt", "LOC_val_solution.csv", "LOC_synset_mapping.txt"}
    ]
    return images, unknown, missing


def _caffe_val_txt(root: Path) -> tuple[list[LabeledImage], list[str], list[str]]:
    labels: dict[str, int] = {}
    for number, line in enumerate((root / "val.txt").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 0 <= int(parts[1]) < 1000:
            raise DatasetError(f"{root / 'val.txt'} line {number}: expected 'FILE LABEL' with LABEL in 0..999")
        labels[parts[0]] = int(parts[1])
    return _labelled_flat(root, labels, root)


def _kaggle_csv(root: Path) -> tuple[list[LabeledImage], list[str], list[str]]:
    index_of = imagenet_classes().index_of()
    labels: dict[str, int] = {}
    csv_path = root / "LOC_val_solution.csv"
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                image_id, prediction = row["ImageId"], row["PredictionString"]
            except KeyError as exc:
                raise DatasetError(f"{csv_path}: expected columns ImageId,PredictionString") from exc
            synset = prediction.split(maxsplit=1)[0] if prediction else ""
            if synset not in index_of:
                raise DatasetError(f"{csv_path}: {image_id} has unknown synset {synset!r}")
            labels[f"{image_id}.JPEG"] = index_of[synset]
    for sub in _KAGGLE_IMAGE_DIRS:
        folder = root / sub if sub != "." else root
        if folder.is_dir() and any((folder / name).is_file() for name in list(labels)[:20]):
            return _labelled_flat(folder, labels, root)
    raise DatasetError(f"{csv_path}: none of its images found in {', '.join(_KAGGLE_IMAGE_DIRS)} under {root}")
