"""The local host backend: what it reports, how it runs, and how it fails."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.devices.base import AccuracyInputs, ModelJob, RunSettings
from bench.devices.local.backend import LocalDevice
from bench.devices.local.launch import run_runner
from bench.engines.loop import LoopSettings
from bench.errors import DeviceError, ToolFailedError
from bench.results.device_records import Platform

QUICK = RunSettings(
        loop=LoopSettings(num_runs=5, min_secs=0.0, max_secs=10.0, warmup_runs=1, warmup_min_secs=0.0))


def _job(path: Path, accelerator: str = "xnnpack", shape: tuple[int, ...] | None = (1, 16, 16, 3)) -> ModelJob:
    return ModelJob(job_id="local/tiny/fp32/xnnpack/t1", model_path=path, model_sha256="00", accelerator=accelerator,
                    threads=1, input_shape=shape, input_name="x", settings=QUICK)


def test_describe_says_what_the_host_is() -> None:
    info = LocalDevice().describe()
    assert info.platform is Platform.LOCAL and (info.cores or 0) >= 1 and info.soc and not info.simulated


def test_snapshot_reads_sysfs(tmp_path: Path) -> None:
    sys_root, proc_root = tmp_path / "sys", tmp_path / "proc"
    zone = sys_root / "class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("45500\n")
    (zone / "type").write_text("x86_pkg_temp\n")
    cpu = sys_root / "devices/system/cpu/cpu0/cpufreq"
    cpu.mkdir(parents=True)
    (cpu / "scaling_governor").write_text("performance\n")
    (cpu / "scaling_cur_freq").write_text("2400000\n")
    battery = sys_root / "class/power_supply/BAT0"
    battery.mkdir(parents=True)
    (battery / "capacity").write_text("87\n")
    (battery / "status").write_text("Discharging\n")
    proc_root.mkdir()
    (proc_root / "loadavg").write_text("0.52 0.40 0.30 1/100 123\n")
    state = LocalDevice(sys_root=sys_root, proc_root=proc_root).snapshot()
    assert state.temperatures_c == {"x86_pkg_temp": 45.5}
    assert (state.governor, state.cpu_freq_khz) == ("performance", {"cpu0": 2400000})
    assert (state.battery_percent, state.charging, state.load_average_1m) == (87.0, False, 0.52)


def test_snapshot_on_a_bare_machine_is_empty_not_an_error(tmp_path: Path) -> None:
    state = LocalDevice(sys_root=tmp_path, proc_root=tmp_path).snapshot()
    assert state.temperatures_c == {} and state.governor is None and state.battery_percent is None


def test_execute_returns_every_latency(tiny_tflite: Path) -> None:
    device = LocalDevice()
    job = _job(tiny_tflite)
    device.prepare(job)
    execution = device.execute(job)
    raw = execution.raw
    assert execution.top5 is None
    assert len(raw.latencies_ms) >= 5 and raw.init_ms is not None and raw.init_ms > 0
    assert raw.input_shape == (1, 16, 16, 3) and raw.accelerator_used == "xnnpack"
    assert raw.peak_rss_mb is not None and raw.peak_rss_mb >= (raw.peak_rss_after_init_mb or 0) > 0
    assert '"latencies_ms"' in raw.raw_output


def test_execute_with_accuracy_inputs_scores_them_in_the_same_process(tiny_tflite: Path, tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "p.npy", pixels)
    execution = LocalDevice().execute(_job(tiny_tflite), AccuracyInputs(pixels_npy=tmp_path / "p.npy", mean=None,
                                                                        std=None, label_offset=0))
    assert execution.top5 is not None and execution.top5.shape == (3, 5) and execution.top5.dtype == np.int64
    assert execution.classify_wall_s is not None and execution.classify_wall_s > 0
    assert len(execution.raw.latencies_ms) >= 5  # timed first, in the same process


def test_missing_model_and_foreign_accelerator_are_refused(tiny_tflite: Path, tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="models build"):
        LocalDevice().prepare(_job(tmp_path / "gone.tflite"))
    with pytest.raises(DeviceError, match="not gpu"):
        LocalDevice().prepare(_job(tiny_tflite, accelerator="gpu"))


def test_a_crashing_runner_is_a_tool_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(ToolFailedError, match="host runner failed"):
        LocalDevice().execute(_job(bad))


def test_a_hanging_runner_is_killed(tiny_tflite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no time cap (max_secs 0) and 60 s of runs: the runner outlives its 1 s watchdog
    job = ModelJob(job_id="x", model_path=tiny_tflite, model_sha256="", accelerator="xnnpack", threads=1,
                   input_shape=None, input_name="x",
                   settings=RunSettings(
        loop=LoopSettings(num_runs=50, min_secs=60.0, max_secs=0.0, warmup_runs=1, warmup_min_secs=0.0),
                                        watchdog_margin_s=1.0))
    with pytest.raises(ToolFailedError, match="did not finish in 1 s and was killed"):
        LocalDevice().execute(job)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the runner fork server is Linux only")
def test_runners_are_forked_one_process_per_run_and_a_bad_one_is_reported(tiny_tflite: Path) -> None:
    argv = ["--graph", str(tiny_tflite), "--num_runs", "3", "--min_secs", "0", "--warmup_min_secs", "0"]
    reports = [json.loads(run_runner(argv, 60).stdout.splitlines()[-1]) for _ in range(2)]
    assert [r["engine"] for r in reports] == ["litert-host/forked"] * 2
    assert reports[0]["pid"] != reports[1]["pid"] != os.getpid()
    rejected = run_runner(["--num_threads", "1"], 60)  # no --graph: argparse refuses, on the child's stderr
    assert rejected.returncode == 2 and "--graph" in rejected.stderr
    assert run_runner(argv, 60).returncode == 0  # the server survived
