"""Count a `.tflite` graph's multiply-accumulates from its own ops and tensor shapes.

One MAC per weight per output position of the convolutions and fully connected layers; elementwise
ops, pooling and activations are not counted (a published figure may count more: EfficientNet-Lite0's
table says 407M "MAdds" where this count gives 385.2M). Shapes are the allocated ones, so a model
resized to another input is counted at that size:

- CONV_2D: output elements x kernel height x kernel width x input channels (weights [O, KH, KW, I]);
- DEPTHWISE_CONV_2D: output elements x kernel height x kernel width (weights [1, KH, KW, C]);
- FULLY_CONNECTED: output elements x input features (weights [O, I]);
- TRANSPOSE_CONV: input elements x kernel height x kernel width x output channels.

A pruned file has the same MACs as the dense one: zeros are multiplied unless a runtime skips them.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

log = logging.getLogger(__name__)

# Ops whose input 1 is the weight tensor (TRANSPOSE_CONV's inputs: [output_shape, weights, input]).
WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MacCount:
    """Multiply-accumulates of one inference, in all and by op type."""

    total: int
    by_op: dict[str, int]
    input_shapes: tuple[tuple[int, ...], ...]  # the shapes it was counted at (a dynamic input at its allocated one)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_op": dict(self.by_op), "input_shapes": [list(s) for s in self.input_shapes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MacCount:
        return cls(total=int(data["total"]), by_op={k: int(v) for k, v in (data.get("by_op") or {}).items()},
                   input_shapes=tuple(tuple(int(d) for d in s) for s in data.get("input_shapes") or ()))


def readable(count: int) -> str:
    """385187552 -> '385.2 M'; 18464 -> '18.5 k'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def count_macs(interpreter: Any) -> MacCount:
    """MACs of one inference of an allocated LiteRT interpreter's graph."""
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    by_op: dict[str, int] = {}
    for op in interpreter._get_ops_details():
        name = op["op_name"]
        if name not in WEIGHT_OPS or len(op["inputs"]) < 2 or not len(op["outputs"]):
            continue
        weight = [int(d) for d in tensors[int(op["inputs"][1])]["shape"]]
        output = [int(d) for d in tensors[int(op["outputs"][0])]["shape"]]
        macs = _op_macs(name, weight, output, tensors, op)
        by_op[name] = by_op.get(name, 0) + macs
    shapes = tuple(tuple(int(d) for d in detail["shape"]) for detail in interpreter.get_input_details())
    return MacCount(total=sum(by_op.values()), by_op=dict(sorted(by_op.items())), input_shapes=shapes)


def _op_macs(name: str, weight: list[int], output: list[int], tensors: dict[int, Any], op: dict[str, Any]) -> int:
    out_elements = int(np.prod(output)) if output else 0
    if name == "CONV_2D" and len(weight) == 4:
        return out_elements * weight[1] * weight[2] * weight[3]
    if name == "DEPTHWISE_CONV_2D" and len(weight) == 4:
        return out_elements * weight[1] * weight[2]
    if name == "FULLY_CONNECTED" and len(weight) == 2:
        return out_elements * weight[1]
    if name == "TRANSPOSE_CONV" and len(weight) == 4 and len(op["inputs"]) > 2:
        data = [int(d) for d in tensors[int(op["inputs"][2])]["shape"]]
        return int(np.prod(data)) * weight[1] * weight[2] * weight[0]
    return 0


@functools.lru_cache(maxsize=64)
def file_macs(path: Path, sha256: str, input_shape: tuple[int, ...] | None = None) -> int | None:
    """MACs of one inference of a `.tflite` file at `input_shape` (its own when None); None for other formats.
    Counted once per file content and shape (`sha256`), not once per job that times it."""
    from bench.engines.litert import load_interpreter

    if path.suffix != ".tflite":
        return None
    try:
        interpreter = load_interpreter(path, use_xnnpack=False)
        if input_shape:
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(input_shape),
                                            strict=False)
            interpreter.allocate_tensors()
        return count_macs(interpreter).total
    except (BenchError, ValueError, RuntimeError) as exc:  # a count is never worth a measured result
        log.warning("%s: MACs not counted (%s)", path.name, str(exc).splitlines()[0] if str(exc) else exc)
        return None
