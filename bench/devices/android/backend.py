"""An Android phone as a benchmark device, reached through the adb server with adbutils.

Files go to /data/local/tmp/bench/ (models under models/<sha256>.tflite, the tool as
benchmark_model), each pushed only when its sha256 on the phone differs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from bench.devices.android import adb
from bench.devices.android.state import COMMAND as STATE_COMMAND
from bench.devices.android.state import parse_state
from bench.devices.base import ModelJob
from bench.errors import DeviceError
from bench.fileio import sha256_file
from bench.results.records import DeviceInfo, DeviceState, Platform

log = logging.getLogger(__name__)

REMOTE_ROOT = "/data/local/tmp/bench"
SIMULATED_MANUFACTURER = "bench-sim"


def remote_model_path(sha256: str) -> str:
    return f"{REMOTE_ROOT}/models/{sha256}.tflite"


class AndroidDevice:
    """One phone. `tool` is the host copy of `benchmark_model` built for the phone's ABI."""

    platform = Platform.ANDROID

    def __init__(self, alias: str, serial: str, adb_client: Any, tool: Path | None = None) -> None:
        self.alias = alias
        self.serial = serial
        self.adb_client = adb_client
        self.tool = tool
        self._device: Any = None
        self.pushed_bytes = 0

    @property
    def device(self) -> Any:
        if self._device is None:
            self._device = adb.device(self.adb_client, self.serial)
        return self._device

    def describe(self) -> DeviceInfo:
        props = adb.getprops(self.device)
        _, possible = adb.shell(self.device, "cat /sys/devices/system/cpu/possible")
        return DeviceInfo(
            id=self.serial,
            platform=Platform.ANDROID,
            model=f"{props.get('ro.product.manufacturer', '')} {props.get('ro.product.model', '?')}".strip(),
            soc=props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware"),
            os=f"Android {props.get('ro.build.version.release', '?')} (SDK {props.get('ro.build.version.sdk', '?')})",
            abi=props.get("ro.product.cpu.abi"),
            cores=_count_cpus(possible.strip()),
            build=props.get("ro.build.fingerprint"),
            simulated=props.get("ro.product.manufacturer") == SIMULATED_MANUFACTURER,
        )

    def snapshot(self) -> DeviceState:
        _, text = adb.shell(self.device, STATE_COMMAND)
        return parse_state(text)

    def prepare(self, job: ModelJob) -> None:
        """Push the model and the tool unless the phone already has these exact bytes."""
        if not job.model_path.is_file():
            raise DeviceError(f"model file {job.model_path} is missing; rebuild it with: python -m bench models build")
        if self.tool is None or not self.tool.is_file():
            raise DeviceError(f"no benchmark_model for {self.serial}'s ABI; give one with --benchmark-model PATH "
                              "or fetch the official build with: python -m bench tools fetch")
        pairs = [(job.model_path, job.model_sha256, remote_model_path(job.model_sha256)),
                 (self.tool, sha256_file(self.tool), f"{REMOTE_ROOT}/benchmark_model")]
        moved = adb.push_if_changed(self.device, pairs[:1])
        moved += adb.push_if_changed(self.device, pairs[1:], mode=0o755)
        self.pushed_bytes += moved
        log.info("%s: pushed %d bytes for %s", self.serial, moved, job.job_id)

    def cleanup(self) -> None:
        """Remove everything bench put on the phone."""
        adb.shell(self.device, f"rm -rf {REMOTE_ROOT}")


def _count_cpus(possible: str) -> int | None:
    """`0-7` or `0-3,6` -> number of CPUs."""
    total = 0
    for part in possible.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not match:
            return None
        total += int(match.group(2) or match.group(1)) - int(match.group(1)) + 1
    return total or None
