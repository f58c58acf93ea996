"""Keras model -> `.tflite` bytes for each quantisation, with the TFLite converter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.errors import ModelError
from bench.models.variants import Quantization


def convert(
    model: Any,
    *,
    input_size: int | None,
    quantization: Quantization,
    calibration_inputs: np.ndarray | None = None,
    sparse_encoding: bool = False,
) -> bytes:
    """Convert `model` (batch 1, HxWx3 float pixels in) to a flatbuffer.

    `calibration_inputs` are float model inputs (raw pixels for a model that normalises in its
    graph). INT8 is full-integer with uint8 input and output: for such a model the input's
    quantisation maps raw pixel bytes, so it eats camera pixels directly.
    """
    import tensorflow as tf

    shape = [1, input_size, input_size, 3]
    function = tf.function(lambda pixels: model(pixels, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="pixels"))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    optimizations = []
    if quantization is not Quantization.NONE:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse_encoding:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantization is Quantization.FP16:
        converter.target_spec.supported_types = [tf.float16]
    elif quantization is Quantization.INT8:
        if calibration_inputs is None or len(calibration_inputs) == 0:
            raise ModelError("int8 needs calibration images; pass --imagenet DIR or rely on the fallback photos")
        converter.representative_dataset = lambda: _representative(calibration_inputs)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises many unrelated types (ConverterError, RuntimeError, ...)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"TFLite conversion failed ({first_line}); run with -v for the converter log") from exc


def _representative(inputs: np.ndarray) -> Iterator[list[np.ndarray]]:
    for image in inputs:
        yield [image[np.newaxis].astype(np.float32)]
