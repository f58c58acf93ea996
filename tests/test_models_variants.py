"""What each built variant is, measured from its .tflite file; the variant cache; build failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.engines.litert_classify import iterate_scores
from bench.models.build import BuildSettings, build_variants
from bench.models.tflite_info import inspect_tflite
from bench.models.variants import parse_variant_list
from bench.models.zoo import resolve_source

pytestmark = pytest.mark.slow
CONV_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def test_int8_runs_integer_convolutions_and_takes_pixels(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    info = inspect_tflite(lite0_variants["int8"].path)
    assert info.inputs[0].dtype == "uint8" and info.outputs[0].dtype == "uint8"
    assert info.inputs[0].quant_scale is not None and abs(info.inputs[0].quant_scale - 1.0) < 0.05
    weights = [w for w in info.weights if w.op in CONV_OPS]
    assert len(weights) == 50  # stem, 16 depthwise, 15 expand, 16 project, head, dense
    assert {(w.stored_dtype, w.activation_dtype) for w in weights} == {("int8", "int8")}
    assert "DEQUANTIZE" not in info.op_counts


def test_fp16_stores_half_weights_and_drq_int8_weights_with_float_activations(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    fp16 = inspect_tflite(lite0_variants["fp16"].path)
    assert {(w.stored_dtype, w.stored_via) for w in fp16.weights} == {("float16", "DEQUANTIZE")}
    drq = inspect_tflite(lite0_variants["drq"].path)
    assert {w.activation_dtype for w in drq.weights} == {"float32"}
    assert "int8" in {w.stored_dtype for w in drq.weights}
    fp32 = lite0_variants["fp32"].manifest.model_size_bytes
    assert fp16.model_size_bytes < 0.6 * fp32 and drq.model_size_bytes < 0.35 * fp32


def test_pruned_model_is_at_least_half_zeros_where_it_prunes(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    outcome = lite0_variants["pruned50"]
    info = inspect_tflite(outcome.path)
    pruned = info.sparsity_over(pruned_only=True)
    assert pruned["overall"] >= 0.5
    assert outcome.manifest.weight_sparsity["overall"] == pytest.approx(pruned["overall"])
    # one global ranking: early, small layers are pruned less than 50%, and 3x3 kernels not at all
    # (the pretrained weights hold a few exact zeros of their own: compare with the fp32 model)
    rates = outcome.manifest.details["pruning"]["layer_target_rates"]
    assert min(rates.values()) < 0.4 < 0.6 < max(rates.values())
    dense = {w.op_index: w for w in inspect_tflite(lite0_variants["fp32"].path).weights}
    others = [w for w in info.weights if not w.is_pointwise_or_dense]
    assert len(others) == 17  # the stem and 16 depthwise convolutions
    for w in others:
        assert (w.sparsity or 0) <= (dense[w.op_index].sparsity or 0) + 0.01, w.tensor
    sparse = outcome.manifest.details["sparse_encoded"]
    assert isinstance(sparse["loads_on_host"], bool) and sparse["model_size_bytes"] > 0


def test_resolution_variants_have_their_shapes(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    assert list(lite0_variants["res160"].manifest.inputs[0].shape) == [1, 160, 160, 3]
    assert lite0_variants["res160"].manifest.preprocess.input_size == 160
    assert list(lite0_variants["dynamic"].manifest.inputs[0].shape) == [1, -1, -1, 3]


@pytest.mark.parametrize("size", [224, 160, 128])
def test_dynamic_model_runs_at_several_sizes(lite0_variants, size: int) -> None:  # type: ignore[no-untyped-def]
    pixels = np.random.default_rng(size).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    outputs = list(iterate_scores(lite0_variants["dynamic"].path, pixels, normalize=lambda x: x))
    assert [o.shape for o in outputs] == [(1000,), (1000,)]
    assert all(abs(float(o.sum()) - 1.0) < 1e-3 for o in outputs)


def test_manifest_records_what_made_the_file(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    int8 = lite0_variants["int8"].manifest
    assert int8.calibration is not None and int8.calibration.count == 200
    assert int8.sha256 and int8.source_sha256 and int8.tool_versions["tensorflow"]
    assert (lite0_variants["int8"].path.parent / "manifest.json").is_file()
    assert lite0_variants["fp32"].manifest.calibration is None


def test_second_build_is_a_cache_hit_without_tensorflow(lite0_variants, session_cache: Path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys, json; from bench.cli import main; rc = main(['models', 'build', '--variants', 'fp32,res160,"
        "dynamic', '--json']); print('TF_IMPORTED', 'tensorflow' in sys.modules); sys.exit(rc)"
    )
    env = {**os.environ, "BENCH_CACHE": str(session_cache)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    payload, marker = done.stdout.rsplit("TF_IMPORTED", 1)
    assert marker.strip() == "False"
    outcomes = json.loads(payload)
    assert [o["cache_hit"] for o in outcomes] == [True, True, True]
    assert outcomes[0]["manifest"]["sha256"] == lite0_variants["fp32"].manifest.sha256


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.errors import ModelError
    from bench.models import build, convert, zoo

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ModelError("converter exploded")

    monkeypatch.setattr(convert, "convert", broken)
    monkeypatch.setattr(zoo.KerasModels, "at_size", lambda self, size: object())
    outcomes = build.build_variants(resolve_source("efficientnet_lite0"), parse_variant_list("fp32,res128"),
                                    BuildSettings(cache_root=tmp_path))
    assert [o.error for o in outcomes] == ["converter exploded", "converter exploded"]
    model_dir = tmp_path / "variants" / "efficientnet_lite0"
    assert not model_dir.exists() or list(model_dir.iterdir()) == []


def test_a_tflite_file_is_benchmarked_as_given(lite0_variants, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    own = tmp_path / "mine.tflite"
    own.write_bytes(lite0_variants["res160"].path.read_bytes())
    outcomes = build_variants(resolve_source(str(own)), parse_variant_list("original,int8"),
                              BuildSettings(cache_root=tmp_path / "cache"))
    assert outcomes[0].error is None and outcomes[0].manifest.sha256 == lite0_variants["res160"].manifest.sha256
    assert "needs the source model" in (outcomes[1].error or "")


def test_own_keras_model_with_a_preprocessing_spec(tmp_path: Path) -> None:
    import tf_keras as keras

    inputs = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1000, activation="softmax")(x)
    model_path = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(model_path)
    spec = tmp_path / "pre.toml"
    spec.write_text('input_size = 48\nnormalization_in_graph = false\nmean = [123.7, 116.3, 103.5]\n'
                    'std = [58.4, 57.1, 57.4]\nresize_filter = "bilinear"\n')
    source = resolve_source(str(model_path), spec)
    outcomes = build_variants(source, parse_variant_list("fp32,int8,res32", default_size=48),
                              BuildSettings(cache_root=tmp_path / "cache", int8_calibration_images=8))
    assert [o.error for o in outcomes] == [None, None, None]
    by_name = {o.variant: o.manifest for o in outcomes}
    assert list(by_name["fp32"].inputs[0].shape) == [1, 48, 48, 3]
    assert list(by_name["res32"].inputs[0].shape) == [1, 32, 32, 3]
    assert by_name["int8"].inputs[0].dtype == "uint8"
    assert by_name["fp32"].preprocess.mean == (123.7, 116.3, 103.5)
