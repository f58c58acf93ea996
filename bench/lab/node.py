"""`bench lab node`: make this lab host a Ray node that advertises the phones plugged into it.

    python -m bench lab node --ray 10.0.0.5:6379          # join the cluster
    python -m bench lab node --head --port 6379           # or start it, on the host that runs cron

runs `ray start` with one custom resource `phone:<alias>` per phone that is online here (an
inventory alias, or its serial / UDID when the inventory does not know it), so `bench lab run --ray`
places each phone's jobs on this host. Ray's worker processes inherit this command's environment:
the adb server port, BENCH_DATA / BENCH_CACHE and BENCH_DEVICES (this host's inventory folder, set
here to an absolute path) are the ones this host uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.devices.select import list_devices
from bench.errors import ConfigError, DeviceError
from bench.lab.ray import phone_resource
from bench.paths import data_dir


def attached_phones(devices: Path, *, given: bool = True) -> list[tuple[str, str, bool]]:
    """The phones online on this host: (the name it is advertised by, its serial or UDID, whether the inventory in
    `devices` knows it). A phone the inventory knows goes by its alias, as the lab config names it; any other by
    its serial. A folder named on the command line (`given`) must exist; the default one may be absent."""
    if given and not devices.is_dir():
        raise ConfigError(f"no inventory folder {devices}; give this host's with --devices DIR (its *.toml name "
                          "the phones, as the lab config does)")
    rows = list_devices([data_dir() / "sim", devices])  # for a phone in both, the alias in `devices` wins
    return sorted((row["alias"] or row["serial"], row["serial"], row["alias"] is not None) for row in rows
                  if row["platform"] in ("android", "ios") and row["serial"] and row["state"] in ("online", "paired"))


def ray_start_command(phones: list[str], *, address: str | None, port: int, extra: list[str]) -> list[str]:
    """The `ray start` command line that advertises `phones` (a head when `address` is None)."""
    ray = Path(sys.executable).with_name("ray")
    executable = str(ray) if ray.exists() else shutil.which("ray")
    if executable is None:
        raise ConfigError("a lab node needs Ray on this host: pip install 'ondevice-bench[lab]'")
    where = ["--head", f"--port={port}", "--include-dashboard=false"] if address is None else [f"--address={address}"]
    resources = json.dumps({phone_resource(p): 1 for p in phones})
    return [executable, "start", *where, f"--resources={resources}", "--disable-usage-stats", *extra]


def start_node(phones: list[str], *, address: str | None, port: int, devices: Path, extra: list[str],
               block: bool) -> None:
    """Run `ray start` with this host's phones and environment; return once the node is up (or, blocking, down)."""
    command = ray_start_command(phones, address=address, port=port, extra=[*extra, *(["--block"] if block else [])])
    env = dict(os.environ, **({"BENCH_DEVICES": str(devices.resolve())} if devices.is_dir() else {}))
    done = subprocess.run(command, env=env, capture_output=not block, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:] if not block else []
        raise DeviceError(f"`ray start` failed (exit {done.returncode}): {' | '.join(tail) or 'see its output'}; "
                          "check the cluster address, and that this host runs the same Ray and Python as the head")
