"""Run a Core ML program's MIL ops with numpy, to check a converted model's numbers where Core ML cannot run.

Covers the ops bench's converter emits and coremltools' passes leave: const, transpose, conv
(TensorFlow SAME padding, groups, dilations), relu/relu6, add/mul/sub, reduce_mean, linear,
softmax, reshape, cast, and the constexpr weight ops (int8 dequantisation, sparse-to-dense) through
coremltools' own host-side decoding. An op it does not know fails the check.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, strides: list[int], pads: list[int],
         dilations: list[int], groups: int) -> np.ndarray:
    """NCHW x, OIHW weight; pads = [top, bottom, left, right]."""
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    n, c, h, w = x.shape
    o, i, kh, kw = weight.shape
    sh, sw = strides
    dh, dw = dilations
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (w - (kw - 1) * dw - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            cols[:, :, a, b] = x[:, :, a * dh:a * dh + sh * oh:sh, b * dw:b * dw + sw * ow:sw]
    out = np.empty((n, o, oh, ow))
    per = o // groups
    for g in range(groups):
        part = cols[:, g * i:(g + 1) * i]
        out[:, g * per:(g + 1) * per] = np.einsum("ncabhw,ocab->nohw", part, weight[g * per:(g + 1) * per])
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def run_program(model: Any, pixels: np.ndarray) -> np.ndarray:
    """Execute the model's main function on `pixels` (its input layout) in float64; return the output."""
    function = model._mil_program.functions["main"]
    env: dict[str, Any] = {next(iter(function.inputs)): pixels.astype(np.float64)}

    def val(var: Any) -> Any:
        if var.name in env:
            return env[var.name]
        if var.val is not None:
            return np.asarray(var.val)
        raise KeyError(var.name)

    for op in function.operations:
        kind, ins = op.op_type, op.inputs
        if kind == "const":
            env[op.outputs[0].name] = np.asarray(op.outputs[0].val)
            continue
        if kind.startswith("constexpr"):
            env[op.outputs[0].name] = np.asarray(op.materialized_val_inference(), dtype=np.float64)
            continue
        x = val(ins["x"]) if "x" in ins else None
        if kind == "transpose":
            out = np.transpose(x, val(ins["perm"]))
        elif kind == "cast":
            out = x.astype(np.float16).astype(np.float64) if str(val(ins["dtype"])) == "fp16" else x
        elif kind == "conv":
            weight = val(ins["weight"]).astype(np.float64)
            strides = [int(v) for v in val(ins["strides"])]
            dilations = [int(v) for v in val(ins["dilations"])]
            pad_type = str(val(ins["pad_type"]))
            if pad_type == "same":
                pads = [*_same_pads(x.shape[2], weight.shape[2], strides[0], dilations[0]),
                        *_same_pads(x.shape[3], weight.shape[3], strides[1], dilations[1])]
            elif pad_type == "valid":
                pads = [0, 0, 0, 0]
            else:
                pads = [int(v) for v in val(ins["pad"])]
            bias = val(ins["bias"]).astype(np.float64) if "bias" in ins and ins["bias"] is not None else None
            out = conv(x, weight, bias, strides, pads, dilations, int(val(ins["groups"])))
        elif kind == "relu":
            out = np.maximum(x, 0)
        elif kind == "relu6":
            out = np.clip(x, 0, 6)
        elif kind in ("add", "mul", "sub"):
            y = val(ins["y"])
            out = {"add": np.add, "mul": np.multiply, "sub": np.subtract}[kind](x, y)
        elif kind == "reduce_mean":
            out = x.mean(axis=tuple(int(a) for a in val(ins["axes"])), keepdims=bool(val(ins["keep_dims"])))
        elif kind == "linear":
            out = x @ val(ins["weight"]).astype(np.float64).T
            if "bias" in ins and ins["bias"] is not None:
                out = out + val(ins["bias"])
        elif kind == "softmax":
            axis = int(val(ins["axis"]))
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            out = e / e.sum(axis=axis, keepdims=True)
        elif kind == "reshape":
            out = x.reshape([int(d) for d in val(ins["shape"])])
        else:
            raise NotImplementedError(f"op {kind} ({op.name})")
        env[op.outputs[0].name] = out
    (output,) = function.outputs
    return np.asarray(env[output.name])
