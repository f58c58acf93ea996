"""A fake iPhone behind bench's IOSPort: an app container in a folder, a runner that writes results.

The fake runner does what BenchRunner does as far as the host can see: it reads its arguments,
writes `Documents/results/<job>.json` in the runner's format after a few polls, and for accuracy
jobs ranks classes from the pushed pixels (the mean colour picks the class, so results are checkable).
Faults are switched on by name.
"""

from __future__ import annotations

import json
import plistlib
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.devices.ios.port import (
    CrashReport,
    InstalledApp,
    IOSFault,
    IOSPortError,
    IPhone,
    Preflight,
    ProcessSample,
)

UDID = "00008110-001A2B3C4D5E801E"


# A JetsamEvent .ips as iOS 15+ writes it: a header line, then the body listing the resident processes;
# the one the event killed carries a reason
JETSAM_HEADER = json.dumps({"bug_type": "298", "timestamp": "2026-11-27 10:15:00.00 +0000",
                            "os_version": "iPhone OS 17.4.1 (21E236)"}) + "\n"
JETSAM_KILLED_RUNNER = JETSAM_HEADER + json.dumps({
    "largestProcess": "BenchRunner", "memoryStatus": {"pageSize": 16384},
    "processes": [{"name": "BenchRunner", "pid": 412, "reason": "per-process-limit", "killDelta": 5120,
                   "rpages": 131072, "states": ["frontmost"]},
                  {"name": "SpringBoard", "pid": 34, "rpages": 9000, "states": ["daemon"]}]}, indent=1)
JETSAM_RUNNER_RESIDENT = JETSAM_HEADER + json.dumps({
    "largestProcess": "MobileSafari", "memoryStatus": {"pageSize": 16384},
    "processes": [{"name": "BenchRunner", "pid": 412, "rpages": 4000, "states": ["frontmost"]},
                  {"name": "MobileSafari", "pid": 600, "reason": "vm-pageshortage", "rpages": 90000}]}, indent=1)


def make_ipa(path: Path, version: str = "1.0", build: str = "7") -> Path:
    """An .ipa as Xcode exports one: Payload/BenchRunner.app/Info.plist."""
    info = {"CFBundleIdentifier": "dev.ondevice-bench.BenchRunner", "CFBundleShortVersionString": version,
            "CFBundleVersion": build}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Payload/BenchRunner.app/Info.plist", plistlib.dumps(info))
        archive.writestr("Payload/BenchRunner.app/BenchRunner", b"\xcf\xfa\xed\xfe")
    return path


@dataclass
class FakePort:
    root: Path  # the app container
    faults: set[str] = field(default_factory=set)
    installed: InstalledApp | None = None
    polls_per_run: int = 2
    thermal: tuple[str, str] = ("nominal", "fair")
    battery_percent: float = 81.0
    slowdown: float = 1.0  # the runner's latencies are scaled by this (a slower OS build, a hotter phone)
    compute_plan: dict[str, int] | None = field(default_factory=lambda: {"cpu": 2, "gpu": 0, "neuralEngine": 60})
    launches: list[list[str]] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    installs: int = 0
    _running: dict[int, int] = field(default_factory=dict)  # pid -> polls left
    _next_pid: int = 400
    _reports: list[tuple[float, CrashReport]] = field(default_factory=list)

    def _fail(self, name: str, fault: IOSFault, detail: str = "") -> None:
        if name in self.faults:
            raise IOSPortError(fault, detail)

    def list_devices(self) -> list[IPhone]:
        self._fail("unplugged", IOSFault.NOT_CONNECTED)
        self._fail("untrusted", IOSFault.NOT_TRUSTED, "lockdown: pairing record rejected")
        return [IPhone(udid=UDID, name="Lab iPhone", product_type="iPhone15,2", ios_version="17.4.1", build="21E236",
                       cpu_architecture="arm64e")]

    def preflight(self, udid: str) -> Preflight:
        self._fail("untrusted", IOSFault.NOT_TRUSTED, "lockdown: pairing record rejected")
        return Preflight(locked="locked" in self.faults, developer_mode="developer_mode_off" not in self.faults,
                         disk_image_mounted="no_disk_image" not in self.faults,
                         tunnel="no_tunnel" not in self.faults, battery_percent=self.battery_percent,
                         battery_temperature_c=31.5, charging=False)

    def ensure_disk_image(self, udid: str) -> None:
        self._fail("no_disk_image", IOSFault.DISK_IMAGE_NOT_MOUNTED, "personalized image: TSS request failed")

    def installed_app(self, udid: str, bundle_id: str) -> InstalledApp | None:
        return self.installed

    def install(self, udid: str, ipa: Path) -> None:
        self._fail("unsigned", IOSFault.SIGNING, "ApplicationVerificationFailed")
        with zipfile.ZipFile(ipa) as archive:
            info = plistlib.loads(archive.read("Payload/BenchRunner.app/Info.plist"))
        self.installed = InstalledApp(bundle_id=info["CFBundleIdentifier"], version=info["CFBundleShortVersionString"],
                                      build=info["CFBundleVersion"])
        self.installs += 1

    def list_files(self, udid: str, bundle_id: str, folder: str) -> list[str]:
        path = self.root / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def push(self, udid: str, bundle_id: str, local: Path, remote: str) -> int:
        self._fail("transfer", IOSFault.TRANSFER, "AFC: connection closed")
        target = self.root / remote
        target.parent.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, target, dirs_exist_ok=True)
            size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
        else:
            shutil.copyfile(local, target)
            size = local.stat().st_size
        self.pushed.append(remote)
        return size

    def pull(self, udid: str, bundle_id: str, remote: str, local: Path) -> None:
        shutil.copyfile(self.root / remote, local)

    def remove(self, udid: str, bundle_id: str, remote: str) -> None:
        path = self.root / remote
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def launch(self, udid: str, bundle_id: str, arguments: list[str], environment: dict[str, str]) -> int:
        self._fail("locked", IOSFault.LOCKED, "SpringBoard refused: device locked")
        self.launches.append(list(arguments))
        self._next_pid += 1
        self._running[self._next_pid] = 10**9 if "hang" in self.faults else self.polls_per_run
        self._arguments = dict(zip(arguments[::2], arguments[1::2], strict=False))
        return self._next_pid

    def is_running(self, udid: str, pid: int) -> bool:
        left = self._running.get(pid, 0)
        if left <= 0:
            return False
        self._running[pid] = left - 1
        if left == 1:
            self._finish()
        return True

    def kill(self, udid: str, pid: int) -> None:
        self._running.pop(pid, None)

    def sample_process(self, udid: str, pid: int) -> ProcessSample | None:
        return ProcessSample(phys_footprint_bytes=(70 + len(self.launches)) * 2**20) if pid in self._running else None

    def crash_reports_since(self, udid: str, since_epoch_s: float, process_name: str) -> list[CrashReport]:
        return [report for when, report in self._reports if when >= since_epoch_s]

    def _finish(self) -> None:
        """What the app leaves behind when it exits."""
        import time

        args = self._arguments
        if "crash" in self.faults:
            self._reports.append((time.time(), CrashReport(
                name="BenchRunner-2026-11-27-101500.ips", killed_for_memory=False,
                text="Incident Identifier: 1\nException Type:  EXC_BAD_ACCESS (SIGSEGV)\nCrashed Thread: 0\n")))
            return
        if "jetsam" in self.faults:
            self._reports.append((time.time(), CrashReport(
                name="JetsamEvent-2026-11-27-101500.ips", killed_for_memory=True,
                text=JETSAM_KILLED_RUNNER)))
            return
        if "runner_fails" in self.faults:
            out = self.root / args["--result"]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"format": "bench-runner-result/1", "job_id": args["--job-id"],
                                       "status": "failed", "error": "MLModel: compute units unavailable",
                                       "compute_units": args["--compute-units"]}))
            return
        runs = int(args["--num-runs"])
        rng = np.random.default_rng(runs)
        result: dict[str, object] = {
            "format": "bench-runner-result/1", "job_id": args["--job-id"], "status": "ok", "error": None,
            "model": args["--model"], "compute_units": args["--compute-units"],
            "runner": {"version": self.installed.version if self.installed else "?", "build": "7",
                       "os": "iOS Version 17.4.1 (Build 21E236)" if "old_runner" in self.faults else "iOS 17.4.1",
                       "machine": "iPhone15,2"},
            "compile_ms": 812.5, "load_ms": 95.25, "first_prediction_ms": 14.0, "warmup_ms": [14.0, 4.5],
            "latencies_ms": [float(v) * self.slowdown for v in 4.0 + rng.random(runs) * 0.2],
            "thermal_state_before": self.thermal[0], "thermal_state_after": self.thermal[1],
            # by phase, as the runner reads them (compiling peaks highest); "old_runner": a build before phases
            "phys_footprint_mb": {"after_load": 61.0, "peak": 75.5} if "old_runner" in self.faults else
            {"compile_peak": 140.75, "load_peak": 88.0, "after_load": 61.0, "predict_peak": 63.5, "peak": 140.75},
            "input": {"name": "pixels", "shape": [1, 224, 224, 3], "dtype": "float32"},
            "compute_plan": self.compute_plan,
        }
        if "--inputs" in args:
            shape = [int(d) for d in args["--inputs-shape"].split(",")]
            pixels = np.fromfile(self.root / args["--inputs"], dtype=np.uint8).reshape(shape)
            colour = pixels.reshape(shape[0], -1, 3).mean(axis=1)
            best = np.argmax(colour, axis=1)  # red -> 0, green -> 1, blue -> 2
            top5 = [[int(b), *[c for c in range(3, 7)]] for b in best]
            result["accuracy"] = {"images": len(top5), "top5": top5}
        out = self.root / args["--result"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result))
