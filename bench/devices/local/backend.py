"""The local host as a benchmark device: each run is a `bench.engines.host_runner` subprocess."""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.devices.base import AccuracyInputs, Execution, ModelJob, StageRun
from bench.devices.local.launch import run_runner
from bench.engines.host_runner_io import raw_run_from_report
from bench.errors import DeviceError, ToolFailedError
from bench.results.device_records import HOST_ACCELERATORS, Accelerator, DeviceInfo, DeviceState, Platform

log = logging.getLogger(__name__)

# A run may take max_secs for warm-up plus max_secs timed, plus loading; past this, it hangs.
_SECONDS_PER_IMAGE_LIMIT = 2.0


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read(Path("/proc/cpuinfo")) or ""
    for line in text.splitlines():
        if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


class LocalDevice:
    """This machine. Its state comes from /proc and /sys where Linux exposes them."""

    alias = "local"

    def __init__(self, sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")) -> None:
        self.sys_root = sys_root
        self.proc_root = proc_root

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=socket.gethostname(), platform=Platform.LOCAL, model=f"host ({platform.machine()})",
            soc=_cpu_model(), os=platform.platform(), abi=platform.machine(), cores=os.cpu_count(),
            build=f"python {platform.python_version()}", simulated=False,
        )

    def snapshot(self) -> DeviceState:
        temperatures: dict[str, float] = {}
        for zone in sorted((self.sys_root / "class/thermal").glob("thermal_zone*")):
            millideg = _read(zone / "temp")
            if millideg and millideg.lstrip("-").isdigit():
                temperatures[_read(zone / "type") or zone.name] = int(millideg) / 1000.0
        frequencies: dict[str, int] = {}
        for cpu in sorted((self.sys_root / "devices/system/cpu").glob("cpu[0-9]*")):
            khz = _read(cpu / "cpufreq/scaling_cur_freq")
            if khz and khz.isdigit():
                frequencies[cpu.name] = int(khz)
        battery = next(iter(sorted((self.sys_root / "class/power_supply").glob("BAT*"))), None)
        capacity = _read(battery / "capacity") if battery else None
        status = _read(battery / "status") if battery else None
        load = _read(self.proc_root / "loadavg")
        return DeviceState(
            captured_at=datetime.now(UTC).isoformat(timespec="seconds"),
            temperatures_c=temperatures,
            governor=_read(self.sys_root / "devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            cpu_freq_khz=frequencies,
            load_average_1m=float(load.split()[0]) if load else None,
            battery_percent=float(capacity) if capacity and capacity.isdigit() else None,
            charging=(status in ("Charging", "Full")) if status else None,
        )

    def prepare(self, job: ModelJob) -> None:
        if not job.model_path.is_file():
            raise DeviceError(f"model file {job.model_path} is missing; rebuild it with: python -m bench models build")
        if job.accelerator not in HOST_ACCELERATORS:
            raise DeviceError(f"the host runs {', '.join(a.value for a in HOST_ACCELERATORS)}, not {job.accelerator}; "
                              "use --accelerators xnnpack")

    def _command(self, job: ModelJob) -> list[str]:
        """Return the runner's arguments (`python -m bench.engines.host_runner ARGS` runs it by hand)."""
        s = job.settings
        command = ["--graph", str(job.model_path), "--num_threads", str(job.threads), *s.loop.to_arguments(),
                   "--use_xnnpack", str(job.accelerator == Accelerator.XNNPACK).lower()]
        if job.input_shape:
            command += ["--input_shape", ",".join(str(d) for d in job.input_shape)]
        return command

    def _run(self, command: list[str], timeout_s: float) -> dict[str, Any]:
        done = run_runner(command, timeout_s)
        if done.returncode is None:
            raise ToolFailedError(f"host runner did not finish in {timeout_s:.0f} s and was killed; "
                                  "lower --max-secs or check the model")
        lines = done.stdout.strip().splitlines()
        try:
            report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            report = {}
        if done.returncode != 0 or "error" in report or not report:
            reason = report.get("error") or (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise ToolFailedError(f"host runner failed: {reason}")
        report["_stdout"] = done.stdout
        return report

    def execute(self, job: ModelJob, accuracy: AccuracyInputs | None = None) -> Execution:
        """Time the model in one runner process; with `accuracy`, the same process then scores the images."""
        timeout = job.settings.watchdog_s
        command = self._command(job)
        with tempfile.TemporaryDirectory(prefix="bench-classify-") as folder:
            output = Path(folder) / "top5.npy"
            if accuracy is not None:
                command += ["--classify_inputs", str(accuracy.pixels_npy), "--classify_output", str(output),
                            "--label_offset", str(accuracy.label_offset)]
                if accuracy.mean is not None and accuracy.std is not None:
                    command += ["--mean", ",".join(map(str, accuracy.mean)), "--std", ",".join(map(str, accuracy.std))]
                timeout += _SECONDS_PER_IMAGE_LIMIT * len(np.load(accuracy.pixels_npy, mmap_mode="r"))
            report = self._run(command, timeout)
            stdout = report.pop("_stdout")
            classify = report.get("classify")
            top5 = np.asarray(np.load(output), dtype=np.int64) if accuracy is not None else None
        return Execution(raw=raw_run_from_report(report, stdout), top5=top5,
                         classify_wall_s=float(classify["wall_s"]) if classify else None)

    def execute_frames(self, stages: list[tuple[ModelJob, int]], frames: int, rate_hz: float) -> Execution:
        """Feed `frames` frames through the stages' models one after another in one runner process; stage
        k runs on every `every`-th frame (`stages` = [(job, every)], all with the first job's threads)."""
        first = stages[0][0]
        for job, _ in stages:
            self.prepare(job)
        command = ["--stages", json.dumps([{"graph": str(job.model_path), "every": every} for job, every in stages]),
                   "--frames", str(frames), "--num_threads", str(first.threads),
                   "--use_xnnpack", str(first.accelerator == Accelerator.XNNPACK).lower()]
        if rate_hz > 0:
            command += ["--run_frequency", f"{rate_hz:g}"]
        report = self._run(command, first.settings.watchdog_s)
        stdout = report.pop("_stdout")
        stages_run = tuple(StageRun(init_ms=s.get("init_ms"), latencies_ms=tuple(s.get("latencies_ms") or ()))
                           for s in report["stages"])
        return Execution(raw=raw_run_from_report(report, stdout), stages=stages_run)

    def cleanup(self) -> None:
        """Nothing is copied to the host: models run from the cache where they were built."""
