"""Shared fixtures: ../shared data (skipped where absent) and one variant cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGENET_SAMPLE = SHARED / "imagenet-val-sample"
TOOL_OUTPUTS = SHARED / "tool-outputs"


@pytest.fixture(scope="session")
def imagenet_sample() -> Path:
    if not (IMAGENET_SAMPLE / "LOC_synset_mapping.txt").is_file():
        pytest.skip(f"needs the ImageNet val sample at {IMAGENET_SAMPLE} (../shared beside the checkout)")
    return IMAGENET_SAMPLE


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session: variants and preprocessed tensors are built once."""
    return tmp_path_factory.mktemp("bench-cache")


def imagenet_or_none() -> Path | None:
    return IMAGENET_SAMPLE if (IMAGENET_SAMPLE / "LOC_synset_mapping.txt").is_file() else None


# The variants the model tests inspect; built once per session (about 4-5 minutes on 2 cores).
TEST_VARIANTS = "fp32,fp16,int8,drq,pruned50,res160,dynamic"
TEST_PRUNE_BUDGET_S = 15.0


@pytest.fixture(scope="session")
def lite0_variants(session_cache: Path):  # type: ignore[no-untyped-def]
    """Build EfficientNet-Lite0's test variants into the session cache; return {variant: BuildOutcome}."""
    from bench.models.build import BuildSettings, build_variants
    from bench.models.pruning import PruningSettings
    from bench.models.variants import parse_variant_list
    from bench.models.zoo import resolve_source

    settings = BuildSettings(cache_root=session_cache, imagenet=imagenet_or_none(),
                             pruning=PruningSettings(budget_s=TEST_PRUNE_BUDGET_S))
    outcomes = build_variants(resolve_source("efficientnet_lite0"), parse_variant_list(TEST_VARIANTS), settings)
    failed = [f"{o.variant}: {o.error}" for o in outcomes if o.error]
    assert not failed, failed
    return {o.variant: o for o in outcomes}


COREML_TEST_VARIANTS = ["fp32", "fp16", "int8", "pruned50", "res160", "dynamic"]


@pytest.fixture(scope="session")
def lite0_coreml(session_cache: Path, lite0_variants):  # type: ignore[no-untyped-def]
    """The Core ML variants, converted from the session's TFLite variants; {variant: BuildOutcome}."""
    pytest.importorskip("coremltools", reason="the ios extra (coremltools) is not installed")
    from bench.models.build import BuildSettings
    from bench.models.coreml_build import build_coreml_variants
    from bench.models.pruning import PruningSettings
    from bench.models.zoo import resolve_source

    settings = BuildSettings(cache_root=session_cache, imagenet=imagenet_or_none(),
                             pruning=PruningSettings(budget_s=TEST_PRUNE_BUDGET_S))
    outcomes = build_coreml_variants(resolve_source("efficientnet_lite0"), COREML_TEST_VARIANTS, settings)
    failed = [f"{o.variant}: {o.error}" for o in outcomes if o.error]
    assert not failed, failed
    return {o.variant: o for o in outcomes}


@pytest.fixture(scope="session")
def lite0_keras():  # type: ignore[no-untyped-def]
    from bench.models.efficientnet_lite import pretrained_lite0

    return pretrained_lite0(224)


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small float model with a free input size, built here."""
    import tensorflow as tf

    kernel = tf.constant(0.01, shape=(3, 3, 3, 8))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME")), axis=[1, 2])

    data = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert()
    path = tmp_path_factory.mktemp("tiny") / "tiny.tflite"
    path.write_bytes(data)
    return path
