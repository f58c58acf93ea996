"""An iPhone as a benchmark device: the BenchRunner app runs Core ML models, driven through an IOSPort.

Per job: check the phone can run (unlocked, trusted, Developer Mode, disk image, tunnel), install
the runner app when missing or older than the given .ipa, push the model package into the app's
`Documents/models/<sha256>.mlpackage` (once), launch the app with the job's arguments, watch it
under a watchdog while sampling its phys_footprint, pull `Documents/results/<job>.json`, and read
it. An app that dies leaves no result: its crash or jetsam report is pulled and stored, and the job
fails saying which.
"""

from __future__ import annotations

import hashlib
import logging
import plistlib
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.devices.base import AccuracyInputs, Execution, ModelJob
from bench.devices.ios.port import FIXES, InstalledApp, IOSFault, IOSPort, IOSPortError, IPhone
from bench.engines.coreml_result import RunnerResult, read_runner_result
from bench.errors import ConfigError, DeviceError, DeviceNotReadyError, ResultFormatError, ToolFailedError
from bench.fileio import sha256_file, write_text_atomic
from bench.results.device_records import Accelerator, DeviceInfo, DeviceState, Platform, is_throttling
from bench.results.records import RawRun

log = logging.getLogger(__name__)

BUNDLE_ID = "dev.ondevice-bench.BenchRunner"
PROCESS_NAME = "BenchRunner"
SAMPLE_EVERY_S = 0.5
STARTUP_MARGIN_S = 120.0  # compiling a model package on the phone can take a minute
SECONDS_PER_IMAGE = 1.0
# the compute units Core ML was asked for -> the plan entry that proves the accelerator took part
ACCELERATOR_OF: dict[str, str] = {Accelerator.CPU_AND_NEURAL_ENGINE: "neuralEngine", Accelerator.CPU_AND_GPU: "gpu"}
NOT_READY = {IOSFault.NOT_CONNECTED, IOSFault.LOCKED, IOSFault.NOT_TRUSTED, IOSFault.DEVELOPER_MODE_OFF,
             IOSFault.DISK_IMAGE_NOT_MOUNTED, IOSFault.TUNNEL_MISSING, IOSFault.THERMAL}


def port_error(udid: str | None, error: IOSPortError) -> DeviceError:
    """One line: what happened on which iPhone (None: before any was found), and the fix."""
    detail = f" ({error.detail})" if error.detail else ""
    cls = DeviceNotReadyError if error.fault in NOT_READY else DeviceError
    where = f"iPhone {udid}" if udid else "iPhones"
    return cls(f"{where}: {error.fault.value}{detail}; {FIXES[error.fault]}")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


@dataclass(frozen=True, slots=True)
class Runner:
    """The runner app to install: its .ipa and the version inside it."""

    ipa: Path
    version: str
    build: str

    @classmethod
    def from_ipa(cls, ipa: Path) -> Runner:
        try:
            with zipfile.ZipFile(ipa) as archive:
                plist = next(n for n in archive.namelist() if re.fullmatch(r"Payload/[^/]+\.app/Info\.plist", n))
                info = plistlib.loads(archive.read(plist))
        except (OSError, zipfile.BadZipFile, StopIteration, plistlib.InvalidFileException) as exc:
            raise DeviceError(f"{ipa} is not an .ipa with an app's Info.plist ({exc}); build it as "
                              "devices/ios/BenchRunner/README.md says") from exc
        return cls(ipa=ipa, version=str(info.get("CFBundleShortVersionString", "")),
                   build=str(info.get("CFBundleVersion", "")))


class IOSDevice:
    """One iPhone behind a port. `runner_ipa` installs or upgrades the app when given."""

    platform = Platform.IOS

    def __init__(self, alias: str, udid: str, port: IOSPort, *, runner_ipa: Path | None = None,
                 crash_dir: Path | None = None, bundle_id: str = BUNDLE_ID) -> None:
        self.alias = alias
        self.udid = udid
        self.port = port
        self.runner = Runner.from_ipa(runner_ipa) if runner_ipa else None
        self.crash_dir = crash_dir
        self.bundle_id = bundle_id
        self.app: InstalledApp | None = None
        self.pushed_bytes = 0
        self._thermal_after: str | None = None

    def _phone(self) -> IPhone:
        try:
            phones = self.port.list_devices()
        except IOSPortError as exc:
            raise port_error(self.udid, exc) from exc
        for phone in phones:
            if phone.udid == self.udid:
                return phone
        raise port_error(self.udid, IOSPortError(IOSFault.NOT_CONNECTED, "usbmuxd does not list it"))

    def describe(self) -> DeviceInfo:
        phone = self._phone()
        return DeviceInfo(id=phone.udid, platform=Platform.IOS, model=f"{phone.name} ({phone.product_type})",
                          os=f"iOS {phone.ios_version}", abi=phone.cpu_architecture or "arm64", build=phone.build)

    def snapshot(self) -> DeviceState:
        """Battery, temperature and charging, after checking the phone can run a job now."""
        try:
            state = self.port.preflight(self.udid)
        except IOSPortError as exc:
            raise port_error(self.udid, exc) from exc
        for broken, fault in ((state.locked, IOSFault.LOCKED), (state.developer_mode is False,
                                                                IOSFault.DEVELOPER_MODE_OFF),
                              (state.tunnel is False, IOSFault.TUNNEL_MISSING)):
            if broken:
                raise port_error(self.udid, IOSPortError(fault))
        temperatures = {} if state.battery_temperature_c is None else {"battery": state.battery_temperature_c}
        thermal, self._thermal_after = self._thermal_after, None  # only the app can read it: its last reading
        return DeviceState(captured_at=datetime.now(UTC).isoformat(timespec="seconds"), temperatures_c=temperatures,
                           thermal_status=thermal, battery_percent=state.battery_percent, charging=state.charging)

    def prepare(self, job: ModelJob) -> None:
        """Mount the disk image, install the runner when needed, push the model package once."""
        if not job.model_path.exists():
            raise DeviceError(f"model {job.model_path} is missing; rebuild it with: python -m bench models build")
        try:
            self.port.ensure_disk_image(self.udid)
            self.app = self._ensure_app()
            remote = self.remote_model(job)
            if Path(remote).name not in self.port.list_files(self.udid, self.bundle_id, "Documents/models"):
                moved = self.port.push(self.udid, self.bundle_id, job.model_path, remote)
                self.pushed_bytes += moved
                log.info("%s: pushed %d bytes for %s", self.udid, moved, job.job_id)
        except IOSPortError as exc:
            raise port_error(self.udid, exc) from exc

    def _ensure_app(self) -> InstalledApp:
        installed = self.port.installed_app(self.udid, self.bundle_id)
        wanted = self.runner
        if installed is not None and (wanted is None or (installed.version, installed.build) ==
                                      (wanted.version, wanted.build)):
            return installed
        if wanted is None:
            raise IOSPortError(IOSFault.APP_NOT_INSTALLED, f"{self.bundle_id} is not on the phone")
        log.info("%s: installing %s %s (%s)", self.udid, wanted.ipa.name, wanted.version, wanted.build)
        self.port.install(self.udid, wanted.ipa)
        installed = self.port.installed_app(self.udid, self.bundle_id)
        if installed is None:
            raise IOSPortError(IOSFault.SIGNING, f"{wanted.ipa.name} installed but {self.bundle_id} is not listed")
        return installed

    def remote_model(self, job: ModelJob) -> str:
        suffix = job.model_path.suffix or ".mlpackage"
        return f"Documents/models/{job.model_sha256}{suffix}"

    def execute(self, job: ModelJob, accuracy: AccuracyInputs | None = None) -> Execution:
        """Launch the runner for the job, watch it, read its result."""
        if job.settings.loop.run_frequency_hz > 0:
            raise ConfigError("BenchRunner runs its predictions back to back: a fixed rate (--rate) is not measured "
                              "on iPhones; drop --rate to measure a sustained run there")
        result_name = f"{_safe(job.job_id)}.json"
        arguments, images = self._arguments(job, result_name), 0
        try:
            if accuracy is not None:
                extra, images = self._accuracy_arguments(accuracy)
                arguments += extra
            self.port.remove(self.udid, self.bundle_id, f"Documents/results/{result_name}")
            started = time.time()
            pid = self.port.launch(self.udid, self.bundle_id, arguments, {"BENCH_JOB_ID": job.job_id})
            sampled = self._watch(job, pid, images)
            result, text = self._result(result_name, started)
        except IOSPortError as exc:
            raise port_error(self.udid, exc) from exc
        if result.status != "ok":
            raise ToolFailedError(f"BenchRunner failed on {self.udid}: {result.error or 'no reason given'}")
        # the app's own reading: the snapshot after the job reports it, and a run that was throttled is flagged
        self._thermal_after = result.thermal_state_after
        if is_throttling(result.thermal_state_before) or is_throttling(result.thermal_state_after):
            log.warning("%s: thermal state %s -> %s: %s", self.udid, result.thermal_state_before,
                        result.thermal_state_after, FIXES[IOSFault.THERMAL])
        raw = self._raw_run(job, result, sampled, text)
        top5 = None
        if accuracy is not None:
            if result.top5 is None:
                raise ToolFailedError(f"BenchRunner on {self.udid} returned no predictions for the accuracy images")
            import numpy as np

            top5 = np.asarray(result.top5, dtype=np.int64).reshape(len(result.top5), -1)
        return Execution(raw=raw, top5=top5)

    def _arguments(self, job: ModelJob, result_name: str) -> list[str]:
        s = job.settings
        arguments = ["--job-id", job.job_id, "--model", self.remote_model(job), "--compute-units", job.accelerator,
                     *s.loop.to_arguments(dashed=True), "--result", f"Documents/results/{result_name}"]
        if job.input_shape:
            arguments += ["--input-shape", ",".join(str(d) for d in job.input_shape)]
        return arguments

    def _accuracy_arguments(self, accuracy: AccuracyInputs) -> tuple[list[str], int]:
        """Push the preprocessed uint8 pixels (N, H, W, 3) once; the app scales them as the model wants."""
        import numpy as np

        pixels = np.load(accuracy.pixels_npy, mmap_mode="r")
        digest = hashlib.sha256(sha256_file(accuracy.pixels_npy).encode()).hexdigest()[:24]
        name = f"{digest}.u8"
        if name not in self.port.list_files(self.udid, self.bundle_id, "Documents/inputs"):
            raw = accuracy.pixels_npy.with_suffix(".u8")
            if not raw.is_file():
                np.ascontiguousarray(pixels, dtype=np.uint8).tofile(raw)
            self.pushed_bytes += self.port.push(self.udid, self.bundle_id, raw, f"Documents/inputs/{name}")
        arguments = ["--inputs", f"Documents/inputs/{name}", "--inputs-shape",
                     ",".join(str(d) for d in pixels.shape), "--label-offset", str(accuracy.label_offset)]
        if accuracy.mean is not None and accuracy.std is not None:
            arguments += ["--mean", ",".join(f"{v:g}" for v in accuracy.mean),
                          "--std", ",".join(f"{v:g}" for v in accuracy.std)]
        return arguments, int(pixels.shape[0])

    def _watch(self, job: ModelJob, pid: int, images: int) -> float | None:
        """Wait for the app to exit, sampling its phys_footprint; kill it past the deadline."""
        s = job.settings
        budget = s.watchdog_s + STARTUP_MARGIN_S + SECONDS_PER_IMAGE * images
        deadline = time.monotonic() + budget
        peak: float | None = None
        while self.port.is_running(self.udid, pid):
            if time.monotonic() > deadline:
                self.port.kill(self.udid, pid)
                raise IOSPortError(IOSFault.HUNG, f"pid {pid} still running after {budget:.0f} s, killed")
            sample = self.port.sample_process(self.udid, pid)
            if sample is not None:
                peak = max(peak or 0.0, sample.phys_footprint_bytes / 2**20)
            time.sleep(SAMPLE_EVERY_S)
        return peak

    def _result(self, name: str, started: float) -> tuple[RunnerResult, str]:
        """The app's result file and its text; the app's death when it left none."""
        if name not in self.port.list_files(self.udid, self.bundle_id, "Documents/results"):
            raise self._death(started)
        with tempfile.TemporaryDirectory(prefix="bench-ios-result-") as folder:
            path = Path(folder) / name
            self.port.pull(self.udid, self.bundle_id, f"Documents/results/{name}", path)
            text = path.read_text(errors="replace")
        try:
            return read_runner_result(text), text
        except ResultFormatError as exc:
            raise ToolFailedError(f"BenchRunner's result on {self.udid} is unreadable: {exc}") from exc

    def _death(self, started: float) -> IOSPortError:
        """Why the app left no result: its crash or jetsam report, stored next to the results."""
        reports = self.port.crash_reports_since(self.udid, started, PROCESS_NAME)
        if not reports:
            return IOSPortError(IOSFault.APP_CRASHED, "it exited without a result and left no crash report")
        report = reports[-1]
        where = ""
        if self.crash_dir is not None:
            path = self.crash_dir / _safe(report.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, report.text)
            where = f", report saved to {path}"
        if report.killed_for_memory:
            return IOSPortError(IOSFault.APP_KILLED_FOR_MEMORY, f"jetsam report {report.name}{where}")
        reason = next((line.strip() for line in report.text.splitlines()
                       if line.startswith(("Exception Type", "Termination Reason"))), "")
        return IOSPortError(IOSFault.APP_CRASHED, f"{reason or report.name}{where}")

    def _raw_run(self, job: ModelJob, result: RunnerResult, sampled_mb: float | None, text: str) -> RawRun:
        app = self.app
        version = f"BenchRunner {app.version} ({app.build})" if app else "BenchRunner"
        return RawRun(
            engine="coreml", engine_version=f"{version}, {result.runner.get('os', '')}".rstrip(", "),
            init_ms=result.load_ms, first_inference_ms=result.first_prediction_ms, warmup_ms=result.warmup_ms,
            latencies_ms=result.latencies_ms, peak_rss_after_init_mb=None, peak_rss_mb=None,
            model_size_bytes=_size(job.model_path), input_shape=result.input_shape or job.input_shape or (),
            accelerator_used=accelerator_used(job.accelerator, result.compute_plan), raw_output=text,
            compile_ms=result.compile_ms, phys_footprint_after_load_mb=result.footprint_after_load_mb,
            phys_footprint_peak_mb=result.footprint_peak_mb, sampled_phys_footprint_peak_mb=sampled_mb,
            phys_footprint_compile_peak_mb=result.footprint_compile_peak_mb,
            phys_footprint_load_peak_mb=result.footprint_load_peak_mb,
            phys_footprint_predict_peak_mb=result.footprint_predict_peak_mb,
            compute_plan=result.compute_plan, compute_plan_unavailable=result.compute_plan_unavailable,
        )

    def cleanup(self) -> None:
        try:
            for folder in ("Documents/models", "Documents/inputs", "Documents/results"):
                self.port.remove(self.udid, self.bundle_id, folder)
        except IOSPortError as exc:
            raise port_error(self.udid, exc) from exc


def accelerator_used(requested: str, plan: dict[str, int] | None) -> str:
    """The compute units asked for, or `cpu (fallback from X)` when the plan gave X no operation."""
    wanted = ACCELERATOR_OF.get(requested)
    if plan is None or wanted is None:
        return requested  # without a compute plan (before iOS 17.4) Core ML does not say
    return requested if plan.get(wanted, 0) > 0 else f"cpu (fallback from {requested})"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
