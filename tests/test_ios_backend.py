"""The iOS backend on a fake port: a whole job, the runner's result format, and every fault a user can fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.devices.base import AccuracyInputs, ModelJob, RunSettings
from bench.devices.ios import backend
from bench.devices.ios.backend import IOSDevice, accelerator_used
from bench.devices.ios.port import InstalledApp
from bench.engines.coreml_result import read_runner_result
from bench.engines.loop import LoopSettings
from bench.errors import DeviceError, DeviceNotReadyError, ResultFormatError, ToolFailedError
from tests.iosfake import UDID, FakePort, make_ipa


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "SAMPLE_EVERY_S", 0.0)
    monkeypatch.setattr(backend, "STARTUP_MARGIN_S", 0.5)  # the hang test waits out the whole watchdog


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A model package as coremltools writes one: a folder with a manifest and weights."""
    root = tmp_path / "model.mlpackage"
    (root / "Data/com.apple.CoreML/weights").mkdir(parents=True)
    (root / "Manifest.json").write_text("{}")
    (root / "Data/com.apple.CoreML/model.mlmodel").write_bytes(b"\x08\x07" * 100)
    (root / "Data/com.apple.CoreML/weights/weight.bin").write_bytes(b"\0" * 4096)
    return root


def _job(package: Path, units: str = "cpuAndNeuralEngine", runs: int = 20) -> ModelJob:
    return ModelJob(job_id=f"iphone/lite0/fp16/{units}/t1", model_path=package, model_sha256="ab" * 32,
                    accelerator=units, threads=1, input_shape=None, input_name="pixels",
                    settings=RunSettings(
        loop=LoopSettings(num_runs=runs, min_secs=0, max_secs=1, warmup_runs=1, warmup_min_secs=0),
                                         watchdog_margin_s=0.0))


def _device(tmp_path: Path, port: FakePort, ipa: bool = True) -> IOSDevice:
    return IOSDevice("iphone", UDID, port, runner_ipa=make_ipa(tmp_path / "BenchRunner.ipa") if ipa else None,
                     crash_dir=tmp_path / "crashes")


def test_a_whole_job_installs_pushes_launches_samples_and_reads_the_result(tmp_path: Path, package: Path) -> None:
    port = FakePort(tmp_path / "container")
    device = _device(tmp_path, port)
    info = device.describe()
    assert info.model == "Lab iPhone (iPhone15,2)" and info.os == "iOS 17.4.1" and info.build == "21E236"
    before = device.snapshot()
    assert before.temperatures_c == {"battery": 31.5} and before.battery_percent == 81.0
    job = _job(package)
    device.prepare(job)
    assert port.installs == 1 and port.pushed == [f"Documents/models/{'ab' * 32}.mlpackage"]
    execution = device.execute(job)
    raw = execution.raw
    assert raw.engine == "coreml" and raw.engine_version.startswith("BenchRunner 1.0 (7)")
    assert len(raw.latencies_ms) == 20 and all(4.0 <= v <= 4.2 for v in raw.latencies_ms)
    assert (raw.compile_ms, raw.init_ms, raw.first_inference_ms) == (812.5, 95.25, 14.0)
    # memory by phase: the table's peak is the predictions' (63.5), not compiling's lifetime peak (140.75)
    assert (raw.phys_footprint_compile_peak_mb, raw.phys_footprint_load_peak_mb, raw.phys_footprint_after_load_mb,
            raw.phys_footprint_predict_peak_mb, raw.phys_footprint_peak_mb) == (140.75, 88.0, 61.0, 63.5, 140.75)
    assert (raw.peak_memory_mb, raw.peak_memory_kind) == (63.5, "phys_footprint")
    assert raw.sampled_phys_footprint_peak_mb == 71.0  # from the host's samples, not the app's own
    assert raw.accelerator_used == "cpuAndNeuralEngine" and raw.compute_plan == {"cpu": 2, "gpu": 0,
                                                                                  "neuralEngine": 60}
    assert raw.model_size_bytes == 2 + 200 + 4096 and json.loads(raw.raw_output)["job_id"] == job.job_id
    arguments = port.launches[0]
    assert arguments[arguments.index("--compute-units") + 1] == "cpuAndNeuralEngine"
    assert arguments[arguments.index("--num-runs") + 1] == "20"
    assert device.snapshot().thermal_status == "fair"  # the app's reading, reported once after the job
    assert device.snapshot().thermal_status is None
    device.prepare(job)  # the package is on the phone already, the app is current
    assert port.installs == 1 and len(port.pushed) == 1


def test_a_newer_runner_is_installed_over_an_older_one(tmp_path: Path, package: Path) -> None:
    port = FakePort(tmp_path / "container", installed=InstalledApp(bundle_id=backend.BUNDLE_ID, version="0.9",
                                                                   build="3"))
    _device(tmp_path, port).prepare(_job(package))
    assert port.installs == 1 and port.installed is not None and port.installed.version == "1.0"


def test_accuracy_pixels_are_pushed_once_and_each_images_top5_comes_back(tmp_path: Path, package: Path) -> None:
    colours = np.array([[220, 20, 20], [20, 220, 20], [20, 20, 220]], np.uint8)
    pixels = np.repeat(colours[:, None, None, :], 8, axis=1).repeat(8, axis=2)  # (3, 8, 8, 3)
    np.save(tmp_path / "pixels.npy", pixels)
    inputs = AccuracyInputs(pixels_npy=tmp_path / "pixels.npy", mean=None, std=None, label_offset=0)
    port = FakePort(tmp_path / "container")
    device = _device(tmp_path, port)
    job = _job(package)
    device.prepare(job)
    execution = device.execute(job, inputs)
    assert execution.top5 is not None and execution.top5[:, 0].tolist() == [0, 1, 2]
    arguments = port.launches[0]
    assert arguments[arguments.index("--inputs-shape") + 1] == "3,8,8,3" and "--mean" not in arguments
    device.execute(job, inputs)
    assert sum(p.startswith("Documents/inputs/") for p in port.pushed) == 1


def test_a_compute_plan_without_the_neural_engine_is_a_fallback() -> None:
    assert accelerator_used("cpuAndNeuralEngine", {"cpu": 64, "neuralEngine": 0}) == \
        "cpu (fallback from cpuAndNeuralEngine)"
    assert accelerator_used("cpuAndGPU", {"cpu": 4, "gpu": 60}) == "cpuAndGPU"
    assert accelerator_used("cpuAndNeuralEngine", None) == "cpuAndNeuralEngine"  # before iOS 17.4: unknown
    assert accelerator_used("cpuOnly", {"cpu": 64}) == "cpuOnly"


@pytest.mark.parametrize(("fault", "step", "error", "says"), [
    ("unplugged", "describe", DeviceNotReadyError, "plug it in"),
    ("untrusted", "snapshot", DeviceNotReadyError, "tap Trust"),
    ("locked", "snapshot", DeviceNotReadyError, "unlock the iPhone"),
    ("developer_mode_off", "snapshot", DeviceNotReadyError, "Developer Mode and restart"),
    ("no_tunnel", "snapshot", DeviceNotReadyError, "pymobiledevice3 remote tunneld"),
    ("no_disk_image", "prepare", DeviceNotReadyError, "pymobiledevice3 mounter auto-mount"),
    ("unsigned", "prepare", DeviceError, "profile that lists this device's UDID"),
    ("transfer", "prepare", DeviceError, "check the cable and free space"),
    ("crash", "execute", DeviceError, "EXC_BAD_ACCESS (SIGSEGV)"),
    ("jetsam", "execute", DeviceError, "more memory than iOS allows"),
    ("hang", "execute", DeviceError, "still running after"),
])
def test_each_fault_is_one_line_that_names_the_fix(tmp_path: Path, package: Path, fault: str, step: str,
                                                   error: type[Exception], says: str) -> None:
    port = FakePort(tmp_path / "container")
    device = _device(tmp_path, port)
    job = _job(package)
    if step == "execute":
        device.prepare(job)
    port.faults.add(fault)
    call = {"describe": device.describe, "snapshot": device.snapshot, "prepare": lambda: device.prepare(job),
            "execute": lambda: device.execute(job)}[step]
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert says in message and "\n" not in message and UDID in message


def _ready_to_fail(tmp_path: Path, package: Path, fault: str) -> tuple[IOSDevice, ModelJob]:
    """A device with the job's package pushed, whose next run meets `fault`."""
    port = FakePort(tmp_path / "container")
    device = _device(tmp_path, port)
    job = _job(package)
    device.prepare(job)
    port.faults.add(fault)
    return device, job


def test_a_crash_report_is_kept_where_the_error_says(tmp_path: Path, package: Path) -> None:
    device, job = _ready_to_fail(tmp_path, package, "crash")
    with pytest.raises(DeviceError, match="report saved to") as caught:
        device.execute(job)
    saved = Path(str(caught.value).split("report saved to ")[1].split(";")[0].rstrip(")"))
    assert "EXC_BAD_ACCESS" in saved.read_text()


def test_without_the_app_or_an_ipa_the_error_says_how_to_build_it(tmp_path: Path, package: Path) -> None:
    device = _device(tmp_path, FakePort(tmp_path / "container"), ipa=False)
    with pytest.raises(DeviceError, match=r"BenchRunner/README\.md"):
        device.prepare(_job(package))


def test_a_missing_package_is_refused_before_the_phone_is_touched(tmp_path: Path) -> None:
    port = FakePort(tmp_path / "container")
    with pytest.raises(DeviceError, match="python -m bench models build"):
        _device(tmp_path, port).prepare(_job(tmp_path / "gone.mlpackage"))
    assert port.pushed == [] and port.installs == 0


def test_a_failed_run_reports_the_runners_reason(tmp_path: Path, package: Path) -> None:
    device, job = _ready_to_fail(tmp_path, package, "runner_fails")
    with pytest.raises(ToolFailedError, match=r"BenchRunner failed on .*: MLModel: compute units unavailable"):
        device.execute(job)


@pytest.mark.parametrize(("change", "says"), [
    ({"format": "something-else/2"}, "rebuild BenchRunner"),
    ({"latencies_ms": []}, "no latencies_ms"),
    ({"compute_units": "npu"}, "not one of all, cpuOnly"),
    ({"thermal_state_after": "warm"}, "thermal states"),
    ({"load_ms": -1}, "non-negative"),
    ({"accuracy": {"images": 2, "top5": [[1, 2, 3, 4, 5]]}}, "says 2 images but has 1"),
    ({"compute_plan": {"cpu": "all"}}, "compute_plan"),
])
def test_the_result_reader_refuses_what_is_not_a_runner_result(change: dict, says: str) -> None:  # type: ignore[type-arg]
    good = {"format": "bench-runner-result/1", "job_id": "j", "status": "ok", "compute_units": "all",
            "latencies_ms": [4.0, 4.1], "thermal_state_before": "nominal", "thermal_state_after": "fair"}
    assert read_runner_result(json.dumps(good)).latencies_ms == (4.0, 4.1)
    with pytest.raises(ResultFormatError, match=says):
        read_runner_result(json.dumps({**good, **change}))
    with pytest.raises(ResultFormatError, match="not JSON"):
        read_runner_result('{"format": "bench-runner-result/1", "latencies_ms": [4.0,')


def test_the_result_documented_for_the_runner_app_reads() -> None:
    readme = (Path(__file__).parents[1] / "devices/ios/BenchRunner/README.md").read_text()
    example = readme.split("## Result: `bench-runner-result/1`")[1].split("```json")[1].split("```")[0]
    result = read_runner_result(example)
    assert result.compute_units == "all" and result.latencies_ms == (4.02, 3.98)
    assert result.compute_plan == {"cpu": 3, "gpu": 0, "neuralEngine": 61} and result.top5 == ((65, 62, 58, 60, 61),)


def test_an_older_runner_build_gives_its_lifetime_peak_marked_as_such(tmp_path: Path, package: Path) -> None:
    port = FakePort(tmp_path / "container")
    port.faults.add("old_runner")
    device = _device(tmp_path, port)
    job = _job(package)
    device.prepare(job)
    raw = device.execute(job).raw
    assert (raw.peak_memory_mb, raw.peak_memory_kind) == (75.5, "phys_footprint lifetime")
    assert raw.phys_footprint_predict_peak_mb is None
    assert raw.engine_version.endswith("iOS 17.4.1")  # "iOS Version 17.4.1 (Build 21E236)" read as documented


def test_a_jetsam_event_blames_the_runner_only_when_it_killed_it() -> None:
    from bench.devices.ios.reports import jetsam_killed
    from tests.iosfake import JETSAM_KILLED_RUNNER, JETSAM_RUNNER_RESIDENT

    assert jetsam_killed(JETSAM_KILLED_RUNNER, "BenchRunner")
    assert not jetsam_killed(JETSAM_RUNNER_RESIDENT, "BenchRunner")  # resident, Safari was killed
    assert jetsam_killed(JETSAM_RUNNER_RESIDENT, "MobileSafari")
    body_only = JETSAM_KILLED_RUNNER.split("\n", 1)[1]  # older iOS: the body alone
    assert jetsam_killed(body_only, "BenchRunner") and not jetsam_killed("not json", "BenchRunner")


def test_an_unknown_thermal_state_is_unknown_not_critical() -> None:
    from bench.engines.coreml_result import read_runner_result
    from bench.results.device_records import is_throttling

    result = read_runner_result(json.dumps({
        "format": "bench-runner-result/1", "job_id": "j", "status": "ok", "error": None, "compute_units": "all",
        "latencies_ms": [4.0], "thermal_state_before": "nominal", "thermal_state_after": "unknown",
        "compute_plan_unavailable": "compute plan unavailable: BenchRunner was built before Xcode 15.3"}))
    assert result.thermal_state_after == "unknown" and not is_throttling(result.thermal_state_after)
    assert result.compute_plan is None and "Xcode 15.3" in (result.compute_plan_unavailable or "")
