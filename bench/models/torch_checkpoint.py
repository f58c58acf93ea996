"""Read a PyTorch checkpoint (a state_dict of tensors) into numpy arrays without importing torch.

Two on-disk formats exist and both are in the wild:

- the zip format (torch >= 1.6): `archive/data.pkl` plus one raw file per storage under
  `archive/data/<key>`;
- the legacy format (what `efficientnet-lite0-57934424.pth` uses): five pickles back to back
  (magic number, protocol version, system info, the state_dict, the storage keys), then each storage
  as an 8-byte little-endian element count followed by its raw bytes.

In both, tensors are pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
with storages as persistent ids. A restricted unpickler allows only those few globals, so a
checkpoint cannot run code while it is read.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from bench.errors import ModelError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True, slots=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    element_offset: int  # non-zero only for legacy storage views


@dataclass(frozen=True, slots=True)
class _PendingTensor:
    """A tensor whose storage bytes may not have been read yet (legacy format)."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, size: Any, stride: Any, *_: Any) -> _PendingTensor:
    return _PendingTensor(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data: _PendingTensor, *_: Any) -> _PendingTensor:
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise ModelError(
            f"checkpoint refers to {module}.{name}, which a plain state_dict never does; "
            "re-save it with torch.save(model.state_dict(), PATH)"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ModelError(f"unexpected persistent id {pid!r} in checkpoint")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise ModelError(f"unsupported storage type {storage_type!r} in checkpoint")
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy storage view: (view_key, element_offset, view_size)
            return _StorageRef(key, storage_type.dtype, int(view[1]))
        return _StorageRef(key, storage_type.dtype, 0)


def _materialize(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _PendingTensor):
        flat = storages[obj.storage.key].view(obj.storage.dtype)
        start = obj.storage.element_offset + obj.offset
        itemsize = flat.dtype.itemsize
        strided = np.lib.stride_tricks.as_strided(
            flat[start:], shape=obj.size, strides=tuple(s * itemsize for s in obj.stride)
        )
        return np.array(strided, copy=True)
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialize(v, storages)) for k, v in obj.items())
    return obj


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        pkl_names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl_names) != 1:
            raise ModelError(f"{path}: zip checkpoint without a single data.pkl; is it a torch.save file?")
        prefix = pkl_names[0][: -len("data.pkl")]
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pkl_names[0])))
        state = unpickler.load()
        keys = {t.storage.key for t in _pending_tensors(state)}
        storages = {k: np.frombuffer(archive.read(f"{prefix}data/{k}"), dtype=np.uint8) for k in keys}
    return _materialize(state, storages)


def _load_legacy(handle: IO[bytes], path: Path) -> Any:
    if pickle.load(handle) != _LEGACY_MAGIC:
        raise ModelError(f"{path}: not a PyTorch checkpoint (bad magic number)")
    pickle.load(handle)  # protocol version
    pickle.load(handle)  # system info (endianness, type sizes)
    state = _RestrictedUnpickler(handle).load()
    dtypes = {t.storage.key: t.storage.dtype for t in _pending_tensors(state)}
    storages: dict[str, np.ndarray] = {}
    for key in pickle.load(handle):
        (numel,) = struct.unpack("<q", handle.read(8))
        nbytes = numel * dtypes[key].itemsize if key in dtypes else None
        if nbytes is None:
            raise ModelError(f"{path}: storage {key} is listed but no tensor uses it")
        data = handle.read(nbytes)
        if len(data) != nbytes:
            raise ModelError(f"{path}: truncated checkpoint (storage {key} is short); download it again")
        storages[key] = np.frombuffer(data, dtype=np.uint8)
    return _materialize(state, storages)


def _pending_tensors(obj: Any) -> list[_PendingTensor]:
    if isinstance(obj, _PendingTensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _pending_tensors(v)]
    return []


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Return the checkpoint's tensors by name, as numpy arrays in torch's layout."""
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; reinstall the package that ships it")
    try:
        if zipfile.is_zipfile(path):
            state = _load_zip(path)
        else:
            with path.open("rb") as handle:
                state = _load_legacy(handle, path)
    except ModelError:
        raise
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: unreadable checkpoint ({exc}); download or reinstall it") from exc
    if not isinstance(state, dict):
        raise ModelError(f"{path}: holds a {type(state).__name__}, not a state_dict")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {str(k): v for k, v in state.items() if isinstance(v, np.ndarray)}
