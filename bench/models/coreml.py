"""Core ML variants, converted from the TFLite float variant of the same model: the same weights on both platforms.

A float `.tflite` (fp32, pruned50, resN) is read with LiteRT's flatbuffer schema and rebuilt op by op
as a Core ML program with coremltools' MIL builder: CONV_2D, DEPTHWISE_CONV_2D (OHWI and 1HWC
weights to Core ML's OIHW, SAME/VALID padding, fused ReLU/ReLU6), ADD, MUL and SUB (with fused
activations), MEAN over height and width, FULLY_CONNECTED, RESHAPE and SOFTMAX. The program runs
channels-first inside and keeps the TFLite file's NHWC input, its name and its output, so the
runner app feeds both platforms the same tensors. A graph with any other op, or quantised tensors,
is refused naming the op.

Core ML variants: `fp16` (Core ML's default precision) and `fp32` from the fp32 file; `int8`:
per-channel symmetric int8 weights (coremltools.optimize linear weight quantisation) of the fp16
program; `pruned50` from the pruned TFLite file, its zeros stored sparse; `resN` from the TFLite
resN file; `enumerated` from the fp32 file with the input sizes 224/192/160/128 as enumerated
shapes. coremltools writes `.mlpackage` folders on Linux but cannot run them there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ModelError

log = logging.getLogger(__name__)

ENUMERATED_SIZES = (224, 192, 160, 128)
DEPLOYMENT_TARGET = "iOS16"  # mlprogram with fp16 compute and the optimize APIs' constexpr ops
_ACTIVATIONS = {0: None, 1: "relu", 3: "relu6"}


@dataclass(slots=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int  # TensorType enum of the schema
    data: np.ndarray | None  # constant tensors


@dataclass(slots=True)
class Op:
    code: str
    inputs: list[int]
    outputs: list[int]
    options: Any


@dataclass(slots=True)
class TfliteGraph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    codes: dict[str, int] = field(default_factory=dict)


def read_tflite(path: Path) -> TfliteGraph:
    """The first subgraph of a `.tflite` file: tensors (constants with their values) and ops in order."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    except Exception as exc:  # a flatbuffer that is not a model raises from deep inside the generated code
        raise ModelError(f"{path} is not a .tflite model ({type(exc).__name__}); rebuild it") from exc
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    numpy_type = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32,
                  schema.TensorType.INT64: np.int64}
    graph = model.subgraphs[0]
    tensors = []
    for t in graph.tensors:
        raw = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
        data = None
        if raw is not None and len(raw) and t.type in numpy_type:
            data = np.frombuffer(bytes(raw), dtype=numpy_type[t.type]).reshape([int(d) for d in t.shape])
        shape = tuple(int(d) for d in (t.shapeSignature if t.shapeSignature is not None else t.shape))
        tensors.append(Tensor(name=t.name.decode(), shape=shape, dtype=t.type, data=data))
    ops = [Op(code=names[max(model.operatorCodes[o.opcodeIndex].builtinCode,
                              model.operatorCodes[o.opcodeIndex].deprecatedBuiltinCode)],
              inputs=[int(i) for i in o.inputs], outputs=[int(i) for i in o.outputs], options=o.builtinOptions)
           for o in graph.operators]
    return TfliteGraph(tensors=tensors, ops=ops, inputs=[int(i) for i in graph.inputs],
                       outputs=[int(i) for i in graph.outputs])


def _check_float(graph: TfliteGraph, path: Path) -> None:
    from ai_edge_litert import schema_py_generated as schema

    for op in graph.ops:
        if op.code not in _BUILDERS:
            raise ModelError(f"{path.name}: op {op.code} has no Core ML counterpart here; Core ML variants are "
                             f"built from float graphs of {', '.join(sorted(_BUILDERS))}")
    for index in graph.inputs:
        if graph.tensors[index].dtype != schema.TensorType.FLOAT32:
            raise ModelError(f"{path.name}: input {graph.tensors[index].name} is not float32; build Core ML "
                             "variants from the float TFLite file (fp32, pruned50, resN)")


class _Builder:
    """Emit MIL ops for TFLite ops, keeping 4-D activations channels-first."""

    def __init__(self, graph: TfliteGraph) -> None:
        from coremltools.converters.mil import Builder as mb

        self.mb = mb
        self.graph = graph
        self.values: dict[int, Any] = {}

    def const(self, index: int) -> np.ndarray:
        data = self.graph.tensors[index].data
        if data is None:
            raise ModelError(f"tensor {self.graph.tensors[index].name} should be a constant")
        return data

    def value(self, index: int) -> Any:
        if index in self.values:
            return self.values[index]
        data = self.const(index)
        return data.transpose(0, 3, 1, 2) if data.ndim == 4 else data  # a 4-D constant follows the layout

    def activate(self, x: Any, options: Any, name: str) -> Any:
        kind = _ACTIVATIONS.get(getattr(options, "fusedActivationFunction", 0) or 0, "unsupported")
        if kind == "unsupported":
            raise ModelError(f"{name}: fused activation {options.fusedActivationFunction} is not supported")
        return x if kind is None else getattr(self.mb, kind)(x=x, name=name)

    def conv(self, op: Op, name: str, depthwise: bool) -> Any:
        from ai_edge_litert import schema_py_generated as schema

        weight = self.const(op.inputs[1])
        if depthwise:  # (1, kh, kw, C * m) -> (C * m, 1, kh, kw)
            weight = weight.transpose(3, 0, 1, 2)
            groups = int(self.graph.tensors[op.inputs[0]].shape[3])
        else:  # (O, kh, kw, I) -> (O, I, kh, kw)
            weight = weight.transpose(0, 3, 1, 2)
            groups = 1
        bias = self.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        o = op.options
        pad = "same" if o.padding == schema.Padding.SAME else "valid"
        dilations = [int(getattr(o, "dilationHFactor", 1) or 1), int(getattr(o, "dilationWFactor", 1) or 1)]
        x = self.mb.conv(x=self.values[op.inputs[0]], weight=np.ascontiguousarray(weight), bias=bias,
                         strides=[int(o.strideH), int(o.strideW)], pad_type=pad, dilations=dilations, groups=groups,
                         name=f"{name}_conv" if _ACTIVATIONS.get(o.fusedActivationFunction) else name)
        return self.activate(x, o, name)

    def emit(self, op: Op, name: str) -> Any:
        return _BUILDERS[op.code](self, op, name)


def _binary(kind: str) -> Any:
    def build(b: _Builder, op: Op, name: str) -> Any:
        x = getattr(b.mb, kind)(x=b.value(op.inputs[0]), y=b.value(op.inputs[1]),
                                name=f"{name}_{kind}" if _ACTIVATIONS.get(op.options.fusedActivationFunction)
                                else name)
        return b.activate(x, op.options, name)

    return build


def _mean(b: _Builder, op: Op, name: str) -> Any:
    axes = [int(a) for a in np.atleast_1d(b.const(op.inputs[1]))]
    if sorted(axes) != [1, 2]:
        raise ModelError(f"{name}: MEAN over axes {axes}; only the spatial mean (1, 2) is supported")
    return b.mb.reduce_mean(x=b.values[op.inputs[0]], axes=[2, 3], keep_dims=bool(op.options.keepDims), name=name)


def _fully_connected(b: _Builder, op: Op, name: str) -> Any:
    bias = b.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    x = b.mb.linear(x=b.values[op.inputs[0]], weight=b.const(op.inputs[1]), bias=bias,
                    name=f"{name}_linear" if _ACTIVATIONS.get(op.options.fusedActivationFunction) else name)
    return b.activate(x, op.options, name)


def _reshape(b: _Builder, op: Op, name: str) -> Any:
    shape = [int(d) for d in b.graph.tensors[op.outputs[0]].shape]
    if len(shape) == 4 or (len(b.graph.tensors[op.inputs[0]].shape) == 4 and len(shape) != 2):
        raise ModelError(f"{name}: RESHAPE to {shape} would mix layouts; only flattening to (N, C) is supported")
    return b.mb.reshape(x=b.values[op.inputs[0]], shape=shape, name=name)


def _softmax(b: _Builder, op: Op, name: str) -> Any:
    if float(op.options.beta) != 1.0:
        raise ModelError(f"{name}: SOFTMAX with beta {op.options.beta} is not supported")
    return b.mb.softmax(x=b.values[op.inputs[0]], axis=-1, name=name)


_BUILDERS: dict[str, Any] = {
    "CONV_2D": lambda b, op, name: b.conv(op, name, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op, name: b.conv(op, name, depthwise=True),
    "ADD": _binary("add"), "MUL": _binary("mul"), "SUB": _binary("sub"),
    "MEAN": _mean, "FULLY_CONNECTED": _fully_connected, "RESHAPE": _reshape, "SOFTMAX": _softmax,
}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "t"


def to_mlmodel(tflite: Path, *, precision: str = "fp16", sizes: tuple[int, ...] | None = None) -> Any:
    """Convert a float `.tflite` to a Core ML program (coremltools MLModel); `sizes` = enumerated input sizes."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import get_new_symbol

    graph = read_tflite(tflite)
    _check_float(graph, tflite)
    (input_index,), (output_index,) = graph.inputs, graph.outputs
    tensor = graph.tensors[input_index]
    output_name = _safe(graph.tensors[output_index].name)
    if sizes:
        shape: tuple[Any, ...] = (1, get_new_symbol(), get_new_symbol(), 3)
    else:
        if any(d < 0 for d in tensor.shape):
            raise ModelError(f"{tflite.name} has a free input size; give the sizes to enumerate")
        shape = tensor.shape

    @mb.program(input_specs=[mb.TensorSpec(shape=shape)], opset_version=getattr(ct.target, DEPLOYMENT_TARGET))  # type: ignore[untyped-decorator]
    def program(pixels: Any) -> Any:
        builder = _Builder(graph)
        builder.values[input_index] = mb.transpose(x=pixels, perm=[0, 3, 1, 2], name="to_channels_first")
        for number, op in enumerate(graph.ops):
            out = op.outputs[0]
            name = output_name if out == output_index else f"op{number}_{op.code.lower()}"
            builder.values[out] = builder.emit(op, name)
        result = builder.values[output_index]
        if len(graph.tensors[output_index].shape) == 4:
            result = mb.transpose(x=result, perm=[0, 2, 3, 1], name=output_name)
        return result

    inputs = [ct.TensorType(name="pixels", shape=ct.EnumeratedShapes(
        shapes=[(1, s, s, 3) for s in sizes], default=(1, sizes[0], sizes[0], 3)) if sizes else tensor.shape)]
    compute = ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32
    return ct.convert(program, convert_to="mlprogram", inputs=inputs, compute_precision=compute,
                      minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET))


def quantize_int8(model: Any) -> Any:
    """Per-channel symmetric int8 weights (activations stay float)."""
    import coremltools.optimize as cto

    config = cto.coreml.OptimizationConfig(global_config=cto.coreml.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel"))
    # an all-zero output channel has scale 0: its int8 values are 0/0, harmless since they dequantise to 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return cto.coreml.linear_quantize_weights(model, config=config)


def sparsify(model: Any) -> Any:
    """Store the weights' exact zeros sparsely (the pruned network's zeros; nothing else is zeroed)."""
    import coremltools.optimize as cto

    config = cto.coreml.OptimizationConfig(global_config=cto.coreml.OpThresholdPrunerConfig(
        threshold=1e-12, minimum_sparsity_percentile=0.3))
    return cto.coreml.prune_weights(model, config=config)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightSummary:
    """What the saved program stores: how many weight tensors of each kind, parameters, zeros."""

    dense: int
    int8: int
    sparse: int
    parameters: int
    zeros: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.parameters if self.parameters else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dense": self.dense, "int8": self.int8, "sparse": self.sparse, "parameters": self.parameters,
                "zeros": self.zeros, "sparsity": round(self.sparsity, 4)}


def summarize_weights(model: Any) -> WeightSummary:
    """Count the weight tensors of conv and linear ops by how they are stored, and their zeros."""
    dense = int8 = sparse = parameters = zeros = 0
    program = model._mil_program
    producers = {}
    for op in program.functions["main"].operations:
        for out in op.outputs:
            producers[out.name] = op
    for op in program.functions["main"].operations:
        if op.op_type not in ("conv", "linear"):
            continue
        weight = op.inputs["weight"]
        source = producers.get(weight.name)
        kind = source.op_type if source is not None else "const"
        values = weight.val if weight.val is not None else _materialise(source)
        parameters += int(np.prod(weight.shape))
        zeros += int(np.count_nonzero(np.asarray(values) == 0)) if values is not None else 0
        if "sparse" in kind:
            sparse += 1
        elif "quantize" in kind or "affine" in kind:
            int8 += 1
        else:
            dense += 1
    return WeightSummary(dense=dense, int8=int8, sparse=sparse, parameters=parameters, zeros=zeros)


def _materialise(op: Any) -> np.ndarray | None:
    """The dense value of a constexpr weight op (sparse or quantised storage)."""
    if op is None:
        return None
    try:
        return np.asarray(op.materialized_val_inference())
    except Exception:  # an op type without a host-side value: counted, not decoded
        return None
