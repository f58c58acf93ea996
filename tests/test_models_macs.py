"""Multiply-accumulates counted from a .tflite graph, checked against the formulas on a model built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.engines.litert import load_interpreter
from bench.models.macs import MacCount, count_macs
from bench.models.tflite_info import inspect_tflite


@pytest.fixture(scope="module")
def three_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16x16x3 -> conv 3x3 to 8 channels (stride 2) -> depthwise 3x3 -> mean -> dense 8 -> 4."""
    import tensorflow as tf

    conv = tf.constant(0.01, shape=(3, 3, 3, 8))
    depthwise = tf.constant(0.02, shape=(3, 3, 8, 1))
    dense = tf.constant(0.03, shape=(8, 4))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        x = tf.nn.relu(tf.nn.conv2d(x, conv, 2, "SAME"))
        x = tf.nn.relu(tf.nn.depthwise_conv2d(x, depthwise, [1, 1, 1, 1], "SAME"))
        return tf.matmul(tf.reduce_mean(x, axis=[1, 2]), dense)

    data = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert()
    path = tmp_path_factory.mktemp("macs") / "three.tflite"
    path.write_bytes(data)
    return path


def test_each_layer_counts_as_its_formula_says(three_layers: Path) -> None:
    macs = count_macs(load_interpreter(three_layers, use_xnnpack=False))
    conv = 8 * 8 * 8 * (3 * 3 * 3)  # output 8x8x8, each a 3x3x3 window
    depthwise = 8 * 8 * 8 * (3 * 3)  # output 8x8x8, each a 3x3 window of its own channel
    dense = 4 * 8
    assert macs.by_op == {"CONV_2D": conv, "DEPTHWISE_CONV_2D": depthwise, "FULLY_CONNECTED": dense}
    assert macs.total == conv + depthwise + dense and macs.input_shapes == ((1, 16, 16, 3),)
    assert MacCount.from_dict(macs.to_dict()) == macs


def test_a_resized_input_scales_the_count(three_layers: Path) -> None:
    interpreter = load_interpreter(three_layers, use_xnnpack=False)
    at_16 = count_macs(interpreter).by_op["CONV_2D"]
    resized = load_interpreter(three_layers, use_xnnpack=False)
    resized.resize_tensor_input(resized.get_input_details()[0]["index"], [1, 32, 32, 3], strict=False)
    resized.allocate_tensors()
    assert count_macs(resized).by_op["CONV_2D"] == 4 * at_16  # (32 / 16)^2


def test_models_info_says_the_macs(three_layers: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "info", str(three_layers)]) == 0
    out = capsys.readouterr().out
    assert "MACs: 18.5 k per inference at 1x16x16x3 (CONV_2D 13.8 k, DEPTHWISE_CONV_2D 4.6 k, FULLY_CONNECTED 32)" \
        in out
    assert inspect_tflite(three_layers).to_dict()["macs"]["total"] == 8 * 8 * 8 * 27 + 8 * 8 * 8 * 9 + 32
