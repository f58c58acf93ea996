"""The Android backend against simulated phones, through the real adb server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.devices.android import adb
from bench.devices.android.backend import REMOTE_ROOT, AndroidDevice, remote_model_path
from bench.devices.android.sim.lab import AdbServer, SimLab, free_port
from bench.devices.android.sim.profiles import set_free_bytes, set_temperature
from bench.devices.base import ModelJob, RunSettings
from bench.engines.loop import LoopSettings
from bench.errors import DeviceError, DeviceNotReadyError
from bench.fileio import sha256_file


@pytest.fixture(scope="module")
def phones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimLab, object, Path]]:
    port = free_port()
    root = tmp_path_factory.mktemp("android")
    tool = root / "benchmark_model"  # the simulated phones' x86_64 tool
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} -m bench.devices.android.sim.benchmark_model_compat \"$@\"\n")
    tool.chmod(0o755)
    with AdbServer(port), SimLab(root, count=2) as lab:
        lab.connect(port)
        yield lab, adb.client(port=port), tool


def _phone(phones: tuple[SimLab, object, Path], number: int = 0) -> AndroidDevice:
    lab, client, tool = phones
    return AndroidDevice(alias=f"sim{number}", serial=lab.running[number].serial, adb_client=client, tool=tool)


def _job(model: Path) -> ModelJob:
    return ModelJob(job_id="sim/tiny/fp32/xnnpack/t1", model_path=model, model_sha256=sha256_file(model),
                    accelerator="xnnpack", threads=1, input_shape=(1, 16, 16, 3), input_name="x",
                    settings=RunSettings(
        loop=LoopSettings(num_runs=5, min_secs=0, max_secs=10, warmup_runs=1, warmup_min_secs=0)))


def test_describe_reads_the_phone_and_says_it_is_simulated(phones: tuple[SimLab, object, Path]) -> None:
    info = _phone(phones).describe()
    cores = min(4, os.cpu_count() or 1)  # never more than the host has
    assert (info.model, info.abi, info.cores, info.simulated) == ("bench-sim Simulated Phone", "x86_64", cores, True)
    assert info.os == "Android 14 (SDK 34)" and info.build and info.build.startswith("bench/sim")


def test_snapshot_reads_battery_thermal_clocks_and_screen(phones: tuple[SimLab, object, Path]) -> None:
    lab = phones[0]
    set_temperature(lab.phones[1].root, 47.5)
    state = _phone(phones, 1).snapshot()
    # the HAL's current list, not the stale cached one (which still says 36.0)
    assert state.temperatures_c["cpu0-silver-usr (cpu, HAL)"] == 47.5 and state.hottest_c == 47.5
    assert state.thermal_status == "light" and state.battery_percent == 87 and state.charging is True
    assert state.governor == "schedutil" and max(state.cpu_freq_khz.values()) == 2400000 and state.screen_on is True
    set_temperature(lab.phones[1].root, 36.0)


def test_a_second_prepare_pushes_nothing_and_a_changed_file_is_pushed_again(
    phones: tuple[SimLab, object, Path], tiny_tflite: Path
) -> None:
    lab = phones[0]
    phone = _phone(phones)
    job = _job(tiny_tflite)
    phone.prepare(job)
    first = phone.pushed_bytes
    assert first == tiny_tflite.stat().st_size + phones[2].stat().st_size
    phone.prepare(job)
    assert phone.pushed_bytes == first  # same bytes on the phone: nothing moved
    on_phone = lab.phones[0].root / remote_model_path(job.model_sha256).lstrip("/")
    on_phone.write_bytes(b"corrupted on the phone")
    phone.prepare(job)
    assert phone.pushed_bytes == first + tiny_tflite.stat().st_size
    assert on_phone.read_bytes() == tiny_tflite.read_bytes()
    assert (lab.phones[0].root / REMOTE_ROOT.lstrip("/") / "benchmark_model").stat().st_mode & 0o111


def test_a_full_phone_is_refused_before_pushing(phones: tuple[SimLab, object, Path], tmp_path: Path) -> None:
    lab = phones[0]
    model = tmp_path / "big.tflite"
    model.write_bytes(b"\0" * 300_000)
    set_free_bytes(lab.phones[1].root, 100_000)
    try:
        with pytest.raises(DeviceError, match="MB free in /data/local/tmp/bench/models"):
            _phone(phones, 1).prepare(_job(model))
    finally:
        (lab.phones[1].root / ".sim/free_kb").unlink()


def test_a_phone_that_is_not_attached_is_not_ready(phones: tuple[SimLab, object, Path]) -> None:
    phone = AndroidDevice(alias="gone", serial="127.0.0.1:1", adb_client=phones[1], tool=phones[2])
    with pytest.raises(DeviceNotReadyError, match="not attached"):
        phone.describe()


def test_a_run_on_the_phone_gives_the_tools_numbers_memory_and_delegates(
    phones: tuple[SimLab, object, Path], tiny_tflite: Path
) -> None:
    phone = _phone(phones)
    job = _job(tiny_tflite)
    phone.prepare(job)
    raw = phone.execute(job).raw
    assert raw.engine == "benchmark_model" and raw.latencies_ms == ()  # the tool prints no per-run list
    assert raw.summary is not None and raw.summary.count == 5 and raw.summary.mean_ms > 0
    assert raw.init_ms is not None and raw.first_inference_ms is not None
    assert raw.tool_memory_overall_delta_mb is not None and raw.tool_memory_overall_delta_mb >= 0
    assert raw.accelerator_used == "xnnpack" and raw.input_shape == (1, 16, 16, 3)
    assert "Inference timings in us" in raw.raw_output and "@@pid" not in raw.raw_output


def test_gpu_on_a_phone_without_it_is_marked_as_a_cpu_fallback(
    phones: tuple[SimLab, object, Path], tiny_tflite: Path
) -> None:
    from dataclasses import replace

    phone = _phone(phones)
    job = replace(_job(tiny_tflite), accelerator="gpu")
    phone.prepare(job)
    raw = phone.execute(job).raw
    assert raw.accelerator_used == "cpu (fallback from gpu)"
    assert {"name": "GPU", "status": "failed", "nodes_delegated": None, "nodes_total": None,
            "partitions": None} in raw.delegates


def test_memory_is_sampled_from_proc_while_the_tool_runs(phones: tuple[SimLab, object, Path],
                                                         tiny_tflite: Path) -> None:
    from dataclasses import replace

    phone = _phone(phones, 1)
    job = _job(tiny_tflite)
    # long enough for a few samples
    job = replace(job, settings=replace(job.settings, loop=replace(job.settings.loop, min_secs=2.0)))
    phone.prepare(job)
    raw = phone.execute(job).raw
    assert raw.peak_rss_mb is not None and raw.peak_rss_mb > 10  # a Python process running LiteRT


def test_a_hung_phone_is_killed_by_our_watchdog(phones: tuple[SimLab, object, Path], tiny_tflite: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from bench.errors import DeviceHungError

    lab = phones[0]
    phone = _phone(phones, 1)
    job = _job(tiny_tflite)
    job = replace(job, settings=replace(job.settings, loop=replace(job.settings.loop, max_secs=0.5),
                                        watchdog_margin_s=2.0))
    phone.prepare(job)
    lab.phones[1].own_faults.hang_on_command = "benchmark_model --graph"
    try:
        with pytest.raises(DeviceHungError, match=r"was silent for 2 s, longer than its settings allow .* nothing"):
            phone.execute(job)
    finally:
        lab.phones[1].own_faults.hang_on_command = None


def test_a_model_the_tool_cannot_load_fails_with_its_reason(phones: tuple[SimLab, object, Path],
                                                            tmp_path: Path) -> None:
    from bench.errors import ToolFailedError

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    phone = _phone(phones)
    job = _job(bad)
    phone.prepare(job)
    with pytest.raises(ToolFailedError, match=r"benchmark_model failed \(exit 1\): "):
        phone.execute(job)


def test_without_a_tool_given_the_one_for_the_phones_abi_is_used(phones: tuple[SimLab, object, Path],
                                                                 tiny_tflite: Path) -> None:
    lab, client, tool = phones
    asked: list[str] = []

    def for_abi(abi: str) -> Path | None:
        asked.append(abi)
        return tool if abi == "x86_64" else None

    phone = AndroidDevice(alias="sim", serial=lab.running[0].serial, adb_client=client, tool_for_abi=for_abi)
    phone.prepare(_job(tiny_tflite))
    assert asked == ["x86_64"] and phone.tool == tool
    nothing = AndroidDevice(alias="sim", serial=lab.running[0].serial, adb_client=client, tool_for_abi=lambda _: None)
    with pytest.raises(DeviceError, match="python -m bench tools fetch"):
        nothing.prepare(_job(tiny_tflite))


def test_stdout_and_stderr_lines_stay_whole(phones: tuple[SimLab, object, Path]) -> None:
    from bench.devices.android.run_tool import run_tool

    device = _phone(phones).device
    script = "echo @@pid $$; i=0; while [ $i -lt 200 ]; do echo out-line-$i; echo err-line-$i >&2; i=$((i+1)); done"
    run = run_tool(device, f"sh -c '{script}'", timeout_s=30)
    lines = run.output.splitlines()
    assert lines == [f"out-line-{i}" for i in range(200)] + [f"err-line-{i}" for i in range(200)]
    assert run.exit_code == 0 and run.pid is not None
