"""An independent EfficientNet-Lite0 forward pass in plain numpy, straight from the torch state_dict.

It shares no code with the Keras port: its own block list (read off the checkpoint's tensor shapes,
with strides from the paper), its own TensorFlow "SAME" padding arithmetic, its own convolution.
Tests compare the port with it.
"""

from __future__ import annotations

import numpy as np

# Stage strides of EfficientNet-B0/Lite0 (Tan & Le 2019, table 1): the first block of each stage.
_STRIDE2_BLOCKS = {1, 3, 5, 11}


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(x: np.ndarray, w: np.ndarray, stride: int, groups: int = 1) -> np.ndarray:
    """x (H, W, C), torch weight (O, I/groups, kh, kw) -> (H', W', O), TF SAME padding."""
    kh, kw = w.shape[2], w.shape[3]
    top, bottom = _same_pad(x.shape[0], kh, stride)
    left, right = _same_pad(x.shape[1], kw, stride)
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    out_h = (xp.shape[0] - kh) // stride + 1
    out_w = (xp.shape[1] - kw) // stride + 1
    if groups == 1:
        patches = np.empty((out_h, out_w, kh, kw, x.shape[2]), np.float32)
        for i in range(kh):
            for j in range(kw):
                patches[:, :, i, j, :] = xp[i : i + stride * out_h : stride, j : j + stride * out_w : stride, :]
        # weight (O, I, kh, kw) -> (kh, kw, I, O)
        return patches.reshape(out_h * out_w, -1).dot(w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])).reshape(
            out_h, out_w, -1)
    out = np.zeros((out_h, out_w, x.shape[2]), np.float32)
    for i in range(kh):
        for j in range(kw):
            out += xp[i : i + stride * out_h : stride, j : j + stride * out_w : stride, :] * w[:, 0, i, j]
    return out


def _bn(x: np.ndarray, sd: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    scale = sd[prefix + ".weight"] / np.sqrt(sd[prefix + ".running_var"] + 1e-3)
    return (x - sd[prefix + ".running_mean"]) * scale + sd[prefix + ".bias"]


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def forward(sd: dict[str, np.ndarray], pixels: np.ndarray) -> np.ndarray:
    """Return the 1000 softmax probabilities for one (H, W, 3) image of raw RGB pixels."""
    x = (pixels.astype(np.float32) - 127.0) / 128.0
    x = _relu6(_bn(_conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    block = 0
    while f"_blocks.{block}._depthwise_conv.weight" in sd:
        p = f"_blocks.{block}."
        shortcut = x
        if p + "_expand_conv.weight" in sd:
            x = _relu6(_bn(_conv(x, sd[p + "_expand_conv.weight"], 1), sd, p + "_bn0"))
        dw = sd[p + "_depthwise_conv.weight"]
        stride = 2 if block in _STRIDE2_BLOCKS else 1
        x = _relu6(_bn(_conv(x, dw, stride, groups=dw.shape[0]), sd, p + "_bn1"))
        x = _bn(_conv(x, sd[p + "_project_conv.weight"], 1), sd, p + "_bn2")
        if stride == 1 and shortcut.shape == x.shape:
            x = x + shortcut
        block += 1
    x = _relu6(_bn(_conv(x, sd["_conv_head.weight"], 1), sd, "_bn1"))
    logits = x.mean(axis=(0, 1)).dot(sd["_fc.weight"].T) + sd["_fc.bias"]
    e = np.exp(logits - logits.max())
    return e / e.sum()
