"""`bench tools fetch`: the official prebuilt `benchmark_model` for each Android ABI, cached.

The TensorFlow Lite project publishes nightly builds of its benchmark tool per ABI. Each download is
checked to be an ELF executable for that ABI's machine (a 404 page or a binary for the wrong CPU is
refused), written atomically, and recorded with its URL, size and sha256 in `tools.json` next to it,
so every result can name the exact tool that produced it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.errors import BenchError
from bench.fileio import write_bytes_atomic, write_text_atomic
from bench.paths import cache_dir

log = logging.getLogger(__name__)

BASE_URL = "https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/"
FILES = {"arm64-v8a": "android_aarch64_benchmark_model", "armeabi-v7a": "android_arm_benchmark_model",
         "x86_64": "android_x86_64_benchmark_model", "x86": "android_x86_benchmark_model"}
ELF_MACHINE = {"arm64-v8a": 183, "armeabi-v7a": 40, "x86_64": 62, "x86": 3}  # e_machine: AArch64, ARM, x86-64, 386


@dataclass(frozen=True, slots=True)
class FetchedTool:
    abi: str
    path: Path
    url: str
    sha256: str
    size_bytes: int
    downloaded: bool  # False: it was already in the cache


def tools_dir() -> Path:
    return cache_dir() / "tools"


def _manifest() -> dict[str, dict[str, object]]:
    try:
        data: dict[str, dict[str, object]] = json.loads((tools_dir() / "tools.json").read_text())
    except (OSError, ValueError):
        return {}
    return data


def cached_tool(abi: str) -> Path | None:
    """The fetched benchmark_model for `abi`, if `bench tools fetch` got one."""
    entry = _manifest().get(abi)
    path = tools_dir() / abi / "benchmark_model"
    return path if entry and path.is_file() else None


def binary_problem(path: Path, abi: str | None) -> str | None:
    """Why the file at `path` cannot run on a phone of `abi`, or None (a script, as a simulated phone's
    tools are, is taken as it is)."""
    try:
        with path.open("rb") as file:
            head = file.read(20)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if head.startswith(b"#!"):
        return None
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return f"{path.name} is not an executable"
    (machine,) = struct.unpack("<H" if head[5] == 1 else ">H", head[18:20])
    if abi in ELF_MACHINE and machine != ELF_MACHINE[abi]:
        built = next((name for name, m in ELF_MACHINE.items() if m == machine), f"ELF machine {machine}")
        return f"{path.name} is built for {built}, the phone is {abi}"
    return None


def check_elf(data: bytes, abi: str) -> None:
    """Raise BenchError unless `data` is an ELF executable for `abi`'s CPU."""
    if data[:4] != b"\x7fELF":
        raise BenchError(f"the download for {abi} is not an executable (it starts {data[:16]!r}); the URL may have "
                         "moved: pass --base-url, or build benchmark_model and give it with --benchmark-model")
    little = data[5] == 1
    (machine,) = struct.unpack("<H" if little else ">H", data[18:20])
    if machine != ELF_MACHINE[abi]:
        raise BenchError(f"the download for {abi} is built for ELF machine {machine}, not {ELF_MACHINE[abi]}; "
                         "refusing it")


def fetch(abis: list[str], base_url: str | None = None, refresh: bool = False,
          timeout_s: float = 120) -> list[FetchedTool]:
    """Download (or find in the cache) benchmark_model for each ABI."""
    base = (base_url or os.environ.get("BENCH_TOOLS_URL") or BASE_URL).rstrip("/") + "/"
    manifest = _manifest()
    fetched = []
    for abi in abis:
        if abi not in FILES:
            raise BenchError(f"unknown ABI {abi!r}; choose from {', '.join(FILES)}")
        path = tools_dir() / abi / "benchmark_model"
        url = base + FILES[abi]
        entry = manifest.get(abi)
        if entry and path.is_file() and not refresh:
            fetched.append(FetchedTool(abi, path, str(entry["url"]), str(entry["sha256"]), path.stat().st_size, False))
            continue
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise BenchError(f"cannot download {url} ({exc}); check the network, pass --base-url, or give a "
                             "benchmark_model you built with --benchmark-model") from exc
        check_elf(data, abi)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
        path.chmod(0o755)
        digest = hashlib.sha256(data).hexdigest()
        manifest[abi] = {"url": url, "sha256": digest, "size_bytes": len(data),
                         "fetched_at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_text_atomic(tools_dir() / "tools.json", json.dumps(manifest, indent=2) + "\n")
        log.info("%s: %s (%d bytes, sha256 %s)", abi, url, len(data), digest[:16])
        fetched.append(FetchedTool(abi, path, url, digest, len(data), True))
    return fetched
