"""Named evaluation subsets (datasets/*.txt): the shipped lists, their rule, and a run that scores one."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench.cli import main
from bench.datasets.classes import imagenet_classes
from bench.datasets.layouts import load_imagenet
from bench.datasets.manifests import load_manifest, make_manifest, read_labels, select_images
from bench.datasets.subsets import calibration_subset, id_hash, image_id
from bench.errors import DatasetError
from tests.imagefixtures import class_folders, flat_val_txt

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
ALL_IDS = [f"ILSVRC2012_val_{n:08d}" for n in range(1, 50001)]


def test_the_shipped_subsets_are_class_balanced_nested_and_never_calibrated_on() -> None:
    five, one = load_manifest("imagenet-val-5k"), load_manifest("imagenet-val-1k")
    assert Counter(five.synsets) == Counter({s: 5 for s in imagenet_classes().synsets})
    assert Counter(one.synsets) == Counter({s: 1 for s in imagenet_classes().synsets})
    assert set(one.ids) <= set(five.ids) and list(five.ids) == sorted(five.ids)
    calibration = set(sorted(ALL_IDS, key=id_hash)[:300])  # what a folder of all 50,000 calibrates with
    assert not calibration & set(five.ids) and set(five.ids) <= set(ALL_IDS)
    sums = dict(reversed(line.split("  ")) for line in (DATASETS / "SHA256SUMS").read_text().splitlines())
    for name in ("imagenet-val-5k.txt", "imagenet-val-1k.txt"):
        assert sums[name] == hashlib.sha256((DATASETS / name).read_bytes()).hexdigest()


def test_the_5k_rule_holds_on_real_images_the_lists_were_not_made_from(imagenet_sample: Path) -> None:
    """Within a class, the 5k list holds the lowest-hash ids outside the calibration split: any real image of
    that class (labelled by the sample's own folders) hashing below the class's highest chosen id is listed."""
    five = load_manifest("imagenet-val-5k")
    calibration = set(sorted(ALL_IDS, key=id_hash)[:300])
    highest: dict[str, str] = {}
    for identifier, synset in zip(five.ids, five.synsets, strict=True):
        highest[synset] = max(highest.get(synset, ""), id_hash(identifier))
    synsets = imagenet_classes().synsets
    checked = 0
    for image in load_imagenet(imagenet_sample).images:
        identifier, synset = image_id(image.name), synsets[image.label]
        if identifier not in calibration and id_hash(identifier) <= highest[synset]:
            assert identifier in five.ids, identifier
            checked += 1
        listed = dict(zip(five.ids, five.synsets, strict=True))
        if identifier in listed:
            assert listed[identifier] == synset  # the list's label agrees with the sample's folder
    assert checked > 0


def test_a_folder_lacking_listed_images_is_refused_with_how_many(imagenet_sample: Path) -> None:
    one = load_manifest("imagenet-val-1k")
    present = {image_id(i.name) for i in load_imagenet(imagenet_sample).images} & set(one.ids)
    with pytest.raises(DatasetError, match=f"{1000 - len(present)} of the 1000 images of subset imagenet-val-1k "
                                           "are not in"):
        select_images(load_imagenet(imagenet_sample).images, one, imagenet_sample)


def test_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    edited = tmp_path / "edited.txt"
    text = (DATASETS / "imagenet-val-1k.txt").read_text()
    edited.write_text(text.replace("ILSVRC2012_val_00000", "ILSVRC2012_val_00009", 1))
    with pytest.raises(DatasetError, match="do not match its ids_sha256"):
        load_manifest(str(edited))
    copy = tmp_path / "imagenet-val-1k.txt"  # intact, but another file's line in SHA256SUMS beside it
    copy.write_text(text + "\n")
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  imagenet-val-1k.txt\n")
    with pytest.raises(DatasetError, match="sha256 differs"):
        load_manifest(str(copy))


def test_the_same_subset_is_made_from_any_layout(tmp_path: Path) -> None:
    folders = read_labels(class_folders(tmp_path / "a"))
    flat = read_labels(flat_val_txt(tmp_path / "b"))
    assert folders == flat
    assert make_manifest(folders, 2, "x", "test") == make_manifest(flat, 2, "x", "test")


def test_a_run_scores_the_named_subset_and_calibrates_outside_it(tiny_tflite: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    val = class_folders(tmp_path / "val")
    manifest = tmp_path / "mine.txt"
    assert main(["datasets", "make-subset", str(val), "--per-class", "1", "--out", str(manifest)]) == 0
    listed = load_manifest(str(manifest))
    assert len(listed.ids) == 4  # the fixture's four classes; 3 of its 12 images are its calibration split
    images = load_imagenet(val).images
    calibration = calibration_subset(images, None, frozenset(listed.ids))
    assert not {image_id(i.name) for i in calibration.images} & set(listed.ids)

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    store = str(tmp_path / "s.sqlite")
    capsys.readouterr()
    assert main(["run", "--model", str(tiny_tflite), "--imagenet", str(val), "--subset", str(manifest),
                 "--num-runs", "3", "--min-secs", "0", "--warmup-min-secs", "0", "--store", store, "--json"]) == 0
    accuracy = json.loads(capsys.readouterr().out)["results"][0]["accuracy"]
    assert accuracy["images"] == 4 and accuracy["subset"]["rule"] == "manifest"
    assert accuracy["subset"]["manifest"]["name"] == "mine"
    assert accuracy["subset"]["manifest"]["ids_sha256"] == listed.ids_sha256
    assert main(["report", "latest", "--store", store]) == 0
    assert "accuracy on 4 ImageNet val images of subset mine (datasets/)" in capsys.readouterr().out

    shutil.rmtree(val / imagenet_classes().synsets[999])  # one class's images gone: refused, nothing stored
    assert main(["run", "--model", str(tiny_tflite), "--imagenet", str(val), "--subset", str(manifest),
                 "--store", store]) == 1
    assert "1 of the 4 images of subset mine are not in" in capsys.readouterr().err
    assert main(["runs", "--store", store, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_a_named_subset_and_a_count_are_not_both_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--imagenet", str(class_folders(tmp_path / "val")), "--subset", "imagenet-val-1k",
                 "--images", "50", "--store", str(tmp_path / "s.sqlite")]) == 1
    assert "keep one" in capsys.readouterr().err
    assert main(["run", "--subset", "imagenet-val-9k", "--store", str(tmp_path / "s.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "or a named subset: no subset 'imagenet-val-9k' (known: imagenet-val-1k, imagenet-val-5k)" in err
