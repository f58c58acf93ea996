"""Simulated phones for a whole test module: a private adb server, data and cache folders, and a clean exit."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench.cli import main
from bench.devices.android.sim.lab import adb_binary, free_port


@contextlib.contextmanager
def simulated_phones(root: Path, count: int) -> Iterator[Path]:
    """`bench sim start --count N` with its own adb server and BENCH_DATA / BENCH_CACHE under `root`, run from
    `root`; yield the folder of the phones' sandboxes (`phone1`, ...). Everything is undone after."""
    port = free_port()
    saved = {k: os.environ.get(k) for k in ("ANDROID_ADB_SERVER_PORT", "BENCH_DATA", "BENCH_CACHE")}
    os.environ.update(ANDROID_ADB_SERVER_PORT=str(port), BENCH_DATA=str(root / "data"), BENCH_CACHE=str(root / "c"))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert main(["sim", "start", "--count", str(count)]) == 0
        yield root / "data" / "sim" / "phones"
    finally:
        main(["sim", "stop"])
        subprocess.run([adb_binary(), "-P", str(port), "kill-server"], capture_output=True, timeout=60)
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def captured_phones(root: Path, profiles: tuple[str, ...], captures: Path) -> Iterator[tuple[dict, object, Path]]:
    """One simulated phone per profile (bench.devices.android.sim.captured) on a private adb server, the probes'
    cache under `root`; yield ({profile: SimLab}, the adb client, the phones' benchmark_model stand-in)."""
    import sys

    from bench.devices.android import adb
    from bench.devices.android.sim.lab import AdbServer, SimLab

    port = free_port()
    tool = root / "benchmark_model"
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} -m bench.devices.android.sim.benchmark_model_compat \"$@\"\n")
    tool.chmod(0o755)
    labs: dict[str, SimLab] = {}
    saved = os.environ.get("BENCH_CACHE")
    os.environ["BENCH_CACHE"] = str(root / "cache")
    with AdbServer(port):
        try:
            for profile in profiles:
                labs[profile] = SimLab(root / profile, profile=profile, captures=captures).__enter__()
                labs[profile].connect(port)
            yield labs, adb.client(port=port), tool
        finally:
            for running in labs.values():
                running.__exit__(None, None, None)
            os.environ.pop("BENCH_CACHE") if saved is None else os.environ.update(BENCH_CACHE=saved)
