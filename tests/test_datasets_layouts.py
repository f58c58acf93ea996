from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets.check import check_dataset
from bench.datasets.classes import imagenet_classes
from bench.datasets.layouts import Layout, load_imagenet
from bench.errors import DatasetError
from tests.imagefixtures import IMAGES, class_folders, flat_val_txt, kaggle_csv

EXPECTED = sorted(label for _, label in IMAGES)


def test_class_list_is_the_standard_sorted_thousand() -> None:
    classes = imagenet_classes()
    assert len(classes.synsets) == 1000
    assert classes.synsets[0] == "n01440764" and classes.synsets[999] == "n15075141"
    assert classes.names[0].startswith("tench")


def test_class_list_matches_the_sample_mapping(imagenet_sample: Path) -> None:
    mapping = (imagenet_sample / "LOC_synset_mapping.txt").read_text().splitlines()
    listed = [line.split(maxsplit=1)[0] for line in mapping]
    assert listed == list(imagenet_classes().synsets)


@pytest.mark.parametrize(
    ("make", "layout"),
    [(class_folders, Layout.CLASS_FOLDERS), (flat_val_txt, Layout.CAFFE_VAL_TXT), (kaggle_csv, Layout.KAGGLE_CSV)],
)
def test_each_layout_gives_the_same_labels(tmp_path: Path, make, layout: Layout) -> None:  # type: ignore[no-untyped-def]
    index = load_imagenet(make(tmp_path / "val"))
    assert index.layout is layout
    assert sorted(image.label for image in index.images) == EXPECTED
    assert [image.name for image in index.images] == sorted(image.name for image in index.images)
    assert index.class_count == 4


def test_kaggle_images_beside_the_csv(tmp_path: Path) -> None:
    index = load_imagenet(kaggle_csv(tmp_path, image_dir="."))
    assert len(index.images) == len(IMAGES)


def test_labels_come_from_the_standard_list_not_the_folders_present(tmp_path: Path) -> None:
    index = load_imagenet(class_folders(tmp_path))
    by_file = {image.name.split("/")[1]: image.label for image in index.images}
    assert by_file["ILSVRC2012_val_00000010.JPEG"] == 999  # only 4 folders exist, the index is still 999


def test_unknown_layout_lists_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"Supported: class folders.*val\.txt.*LOC_val_solution\.csv"):
        load_imagenet(tmp_path)


def test_missing_folder_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--imagenet"):
        load_imagenet(tmp_path / "nope")


def test_a_mapping_in_another_order_is_refused(tmp_path: Path) -> None:
    root = class_folders(tmp_path)
    lines = (root / "LOC_synset_mapping.txt").read_text().splitlines()
    (root / "LOC_synset_mapping.txt").write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    with pytest.raises(DatasetError, match="not the standard sorted"):
        load_imagenet(root)


def test_bad_val_txt_line_is_named(tmp_path: Path) -> None:
    root = flat_val_txt(tmp_path)
    (root / "val.txt").write_text("ILSVRC2012_val_00000001.JPEG 1000\n")
    with pytest.raises(DatasetError, match="line 1"):
        load_imagenet(root)


def test_check_counts_corrupt_and_unknown_files(tmp_path: Path) -> None:
    root = class_folders(tmp_path)
    synset = imagenet_classes().synsets[0]
    good = (root / synset / "ILSVRC2012_val_00000001.JPEG").read_bytes()
    (root / synset / "ILSVRC2012_val_00000002.JPEG").write_bytes(good[: len(good) // 3])  # truncated
    (root / synset / "notes.txt").write_text("hello")
    (root / "n99999999").mkdir()
    report = check_dataset(root)
    assert report.layout == "class-folders"
    assert report.images == len(IMAGES)
    assert [name for name, _ in report.unreadable] == [f"{synset}/ILSVRC2012_val_00000002.JPEG"]
    assert report.usable_images == len(IMAGES) - 1
    assert set(report.unknown) == {f"{synset}/notes.txt", "n99999999/"}


def test_check_on_the_sample(imagenet_sample: Path) -> None:
    report = check_dataset(imagenet_sample)
    assert (report.images, report.classes, len(report.unreadable)) == (1300, 725, 0)
