"""Read what is inside a `.tflite` file with the LiteRT interpreter: tensors, ops, quantisation, sparsity."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.engines.litert import load_interpreter
from bench.fileio import sha256_file
from bench.models.macs import WEIGHT_OPS, MacCount, count_macs
from bench.models.manifest import TensorInfo

log = logging.getLogger(__name__)

# Ops that turn a stored constant into the weight an op eats (fp16 weights, sparse encoding).
_DECODE_OPS = frozenset({"DEQUANTIZE", "DENSIFY"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightInfo:
    op_index: int
    op: str
    tensor: str
    shape: tuple[int, ...]
    stored_dtype: str
    stored_via: str | None  # "DEQUANTIZE" (fp16 weights) or "DENSIFY" (sparse encoding) or None
    activation_dtype: str  # dtype of the op's data input: says whether the op runs in integer
    size: int
    zeros: int | None  # None where the runtime does not expose the stored values

    @property
    def sparsity(self) -> float | None:
        return None if self.zeros is None or self.size == 0 else self.zeros / self.size

    @property
    def is_pointwise_or_dense(self) -> bool:
        """1x1 convolutions and fully connected layers: the ones pruned50 prunes."""
        if self.op == "FULLY_CONNECTED":
            return True
        return self.op == "CONV_2D" and len(self.shape) == 4 and self.shape[1] == 1 and self.shape[2] == 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TfliteInfo:
    path: Path
    sha256: str
    model_size_bytes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_counts: dict[str, int]
    weights: tuple[WeightInfo, ...]
    macs: MacCount  # one inference's multiply-accumulates (bench.models.macs)

    def sparsity_over(self, pruned_only: bool = True) -> dict[str, Any]:
        """Return {"overall", "per_layer", "weights"} measured over 1x1 conv + dense weights (or all)."""
        chosen = [w for w in self.weights if w.is_pointwise_or_dense or not pruned_only]
        known = [w for w in chosen if w.zeros is not None]
        total = sum(w.size for w in known)
        return {
            "scope": "1x1 conv + dense weights" if pruned_only else "all conv + dense weights",
            "overall": (sum(w.zeros or 0 for w in known) / total) if total else None,
            "weights": total,
            "unreadable_layers": len(chosen) - len(known),
            "per_layer": {w.tensor: round(w.sparsity or 0.0, 4) for w in known},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "model_size_bytes": self.model_size_bytes,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "op_counts": self.op_counts,
            "macs": self.macs.to_dict(),
            "weight_sparsity": self.sparsity_over(pruned_only=True),
            "weights": [
                {"op": w.op, "tensor": w.tensor, "shape": list(w.shape), "stored_dtype": w.stored_dtype,
                 "stored_via": w.stored_via, "activation_dtype": w.activation_dtype, "sparsity": w.sparsity}
                for w in self.weights
            ],
        }


def _tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    signature = detail.get("shape_signature", detail["shape"])
    return TensorInfo(
        name=detail["name"],
        shape=tuple(int(s) for s in signature),
        dtype=np.dtype(detail["dtype"]).name,
        quant_scale=float(scale) if scale else None,
        quant_zero_point=int(zero_point) if scale else None,
    )


def inspect_tflite(path: Path) -> TfliteInfo:
    """Return the inputs, outputs, op counts and weight tensors of a `.tflite` file."""
    interpreter = load_interpreter(path)
    ops = interpreter._get_ops_details()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    producer = {out: op for op in ops for out in op["outputs"]}
    weights: list[WeightInfo] = []
    for op in ops:
        if op["op_name"] not in WEIGHT_OPS or len(op["inputs"]) < 2:
            continue
        index = int(op["inputs"][1])
        via: str | None = None
        source = producer.get(index)
        if source is not None and source["op_name"] in _DECODE_OPS:
            via, index = source["op_name"], int(source["inputs"][0])
        detail = tensors[index]
        zeros = _count_zeros(interpreter, detail)
        weights.append(WeightInfo(
            op_index=int(op["index"]), op=op["op_name"], tensor=tensors[int(op["inputs"][1])]["name"],
            shape=tuple(int(s) for s in tensors[int(op["inputs"][1])]["shape"]),
            stored_dtype=np.dtype(detail["dtype"]).name, stored_via=via,
            activation_dtype=np.dtype(tensors[int(op["inputs"][0])]["dtype"]).name,
            size=int(np.prod(tensors[int(op["inputs"][1])]["shape"])), zeros=zeros,
        ))
    counts = collections.Counter(op["op_name"] for op in ops)
    return TfliteInfo(
        path=path, sha256=sha256_file(path), model_size_bytes=path.stat().st_size,
        inputs=tuple(_tensor_info(d) for d in interpreter.get_input_details()),
        outputs=tuple(_tensor_info(d) for d in interpreter.get_output_details()),
        op_counts=dict(sorted(counts.items())), weights=tuple(weights),
        macs=count_macs(load_interpreter(path, use_xnnpack=False)),  # the graph's own ops, not a delegate's node
    )


def _count_zeros(interpreter: Any, detail: dict[str, Any]) -> int | None:
    """Count stored zeros; a quantised weight is zero where it equals its zero point."""
    try:
        values = interpreter.get_tensor(detail["index"])
    except ValueError:  # sparse-encoded constants are not readable as dense arrays
        return None
    if detail.get("sparsity_parameters"):
        return None
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return int(np.count_nonzero(values == (zero_point if scale else 0)))
