"""The Keras port of EfficientNet-Lite0 against an independent numpy forward pass and its TFLite form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.datasets.fallback import fallback_pixels
from bench.datasets.layouts import load_imagenet
from bench.datasets.preprocess import PreprocessSpec
from bench.datasets.scoring import normalizer, topk_accuracy
from bench.datasets.subsets import SubsetRule, eval_subset
from bench.datasets.tensor_cache import preprocessed
from bench.engines.litert_classify import iterate_scores, top_k
from bench.models.efficientnet_lite import lite0_checkpoint_path
from bench.models.torch_checkpoint import load_state_dict
from tests.reference_lite0 import forward

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return fallback_pixels(3, PreprocessSpec(), seed=7)


def test_keras_port_matches_an_independent_numpy_forward_pass(lite0_keras, photos: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    state = load_state_dict(lite0_checkpoint_path())
    keras_out = lite0_keras.predict(photos.astype(np.float32), verbose=0)
    for image, probabilities in zip(photos, keras_out, strict=True):
        reference = forward(state, image)
        assert np.argmax(reference) == np.argmax(probabilities)
        np.testing.assert_allclose(probabilities, reference, atol=2e-5)


def test_tflite_fp32_agrees_with_keras(lite0_keras, lite0_variants, photos: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    keras_out = lite0_keras.predict(photos.astype(np.float32), verbose=0)
    tflite_out = np.stack(list(iterate_scores(lite0_variants["fp32"].path, photos, normalize=lambda x: x)))
    np.testing.assert_allclose(tflite_out, keras_out, atol=1e-5)


def test_dynamic_model_at_224_is_the_fp32_model(lite0_variants, photos: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    fixed = np.stack(list(iterate_scores(lite0_variants["fp32"].path, photos, normalize=lambda x: x)))
    dynamic = np.stack(list(iterate_scores(lite0_variants["dynamic"].path, photos, normalize=lambda x: x)))
    np.testing.assert_allclose(dynamic, fixed, atol=1e-5)


def _accuracy(path: Path, spec: PreprocessSpec, imagenet: Path, cache: Path, count: int) -> tuple[dict, np.ndarray]:  # type: ignore[type-arg]
    subset = eval_subset(load_imagenet(imagenet).images, count, SubsetRule.PER_CLASS)
    data = preprocessed(subset.images, spec, cache)
    predictions = top_k(path, np.asarray(data.pixels), normalize=normalizer(spec), num_threads=2)
    return topk_accuracy(predictions, data.labels), predictions


def test_fp32_and_int8_accuracy_on_real_imagenet_images(lite0_variants, imagenet_sample: Path,  # type: ignore[no-untyped-def]
                                                       session_cache: Path) -> None:
    fp32 = lite0_variants["fp32"]
    int8 = lite0_variants["int8"]
    fp32_acc, fp32_pred = _accuracy(fp32.path, fp32.manifest.preprocess, imagenet_sample, session_cache, 300)
    int8_acc, int8_pred = _accuracy(int8.path, int8.manifest.preprocess, imagenet_sample, session_cache, 300)
    # Published: 75.1% top-1 on the full val set; the prescaled sample measures in the same region.
    assert fp32_acc["top1"] > 0.65 and fp32_acc["top5"] > 0.85, fp32_acc
    assert int8_acc["top1"] > fp32_acc["top1"] - 0.05, (int8_acc, fp32_acc)
    assert np.mean(int8_pred[:, 0] == fp32_pred[:, 0]) > 0.85
