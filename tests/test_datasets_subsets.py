from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.datasets.layouts import LabeledImage, load_imagenet
from bench.datasets.subsets import (
    CALIBRATION_SPLIT_MAX,
    SubsetRule,
    calibration_subset,
    eval_subset,
    split_calibration,
    take,
)


def _images(names: list[str], classes: int = 7) -> list[LabeledImage]:
    return [LabeledImage(path=Path(n), name=n, label=i % classes) for i, n in enumerate(names)]


@given(st.lists(st.text(alphabet="abcdef0123456789", min_size=1, max_size=12), unique=True, max_size=400))
def test_calibration_and_evaluation_are_disjoint_and_cover_everything(names: list[str]) -> None:
    images = _images(names)
    calibration, evaluation = split_calibration(images)
    cal, ev = {i.name for i in calibration}, {i.name for i in evaluation}
    assert not cal & ev
    assert cal | ev == set(names)
    assert len(cal) == min(CALIBRATION_SPLIT_MAX, len(names) // 4)


@given(st.lists(st.text(alphabet="abcdef0123456789", min_size=1, max_size=12), unique=True, min_size=1,
                max_size=200), st.integers(min_value=1, max_value=250))
def test_subsets_do_not_depend_on_input_order(names: list[str], count: int) -> None:
    forward, backward = _images(names), _images(names)[::-1]
    for rule in SubsetRule:
        assert eval_subset(forward, count, rule).names_sha256 == eval_subset(backward, count, rule).names_sha256
    assert calibration_subset(forward, count).names_sha256 == calibration_subset(backward, count).names_sha256


def test_first_n_is_the_first_in_sorted_order() -> None:
    images = _images([f"img{i:03d}" for i in range(50)])
    assert [i.name for i in take(images, 5, SubsetRule.FIRST)] == [f"img{i:03d}" for i in range(5)]


def test_per_class_spreads_evenly() -> None:
    images = _images([f"img{i:03d}" for i in range(70)], classes=7)
    chosen = take(images, 14, SubsetRule.PER_CLASS)
    per_class = [sum(1 for i in chosen if i.label == c) for c in range(7)]
    assert per_class == [2] * 7


def test_eval_subset_never_holds_calibration_images(imagenet_sample: Path) -> None:
    images = load_imagenet(imagenet_sample).images
    calibration = {i.name for i in calibration_subset(images, 300).images}
    evaluation = eval_subset(images, None, SubsetRule.FIRST)
    assert len(calibration) == 300 and evaluation.count == 1000
    assert not calibration & {i.name for i in evaluation.images}
    again = eval_subset(load_imagenet(imagenet_sample).images, 500, SubsetRule.PER_CLASS)
    assert again.names_sha256 == eval_subset(images, 500, SubsetRule.PER_CLASS).names_sha256
