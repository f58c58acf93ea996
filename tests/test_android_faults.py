"""Each injected fault fails its own job with a reason; the other jobs run; nothing measured is lost.

Two jobs per run: the same model with two accelerators, the fault aimed at one of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.sim.lab import adb_binary
from bench.devices.android.sim.profiles import set_faults, set_free_bytes, set_temperature
from tests.simfixtures import simulated_phones


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One simulated phone for the module, with a bench.toml that keeps watchdogs short."""
    root = tmp_path_factory.mktemp("faults")
    (root / "bench.toml").write_text("[run]\nwatchdog_margin_s = 3.0\ncooldown_below_c = 90.0\n")
    with simulated_phones(root, 1) as phones:
        yield phones / "phone1"


@contextlib.contextmanager
def injected(phone: Path, **faults: object) -> Iterator[None]:
    """The phone misbehaves as told inside the block, and behaves again after it."""
    set_faults(phone, **faults)
    try:
        yield
    finally:
        set_faults(phone)


def _run(models: list[Path], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, dict]]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["run", "--device", "sim1", "--model", ",".join(map(str, models)), "--variants", "original",
                 "--num-runs", "5", "--min-secs", "0", "--warmup-min-secs", "0", "--max-secs", "1", *extra, "--json"])
    out = json.loads(capsys.readouterr().out)
    return code, {f"{Path(r['model']).stem}/{r['accelerator']}": r for r in out["results"]}


def _check(code: int, results: dict[str, dict], failed: str, reason: str) -> None:  # type: ignore[type-arg]
    assert code == 1, results
    assert failed in results, sorted(results)
    assert results[failed]["status"] == "failed" and reason in results[failed]["error"], results[failed]
    others = [r for key, r in results.items() if key != failed]
    assert others and all(r["status"] == "ok" and r["latency_ms"]["mean"] > 0 for r in others)
    assert main(["export", "latest"]) == 0  # everything measured was stored


def test_the_tool_hangs(phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with injected(phone, hang_on_command="--use_gpu=true"):
        code, results = _run([tiny_tflite], capsys, "--accelerators", "gpu,xnnpack")
    _check(code, results, f"{tiny_tflite.stem}/gpu", "was silent for 3 s, longer than its settings allow (3 s: "
           "loading the model and its delegate, watchdog_margin_s), and was killed; it printed nothing")


def test_a_tool_that_hangs_mid_run_is_killed_on_its_silence_and_its_output_is_kept(
        phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tool prints its start lines and the timed runs' line, then its 5th inference never returns. The
    fixed deadline would be 2 x max_secs + margin = 243 s; the watch allows the timed runs twice what the
    warm-up says they take, plus its margin, and names the line it stopped after."""
    with injected(phone, hang_in_invoke=5):
        code, results = _run([tiny_tflite], capsys, "--accelerators", "xnnpack", "--num-runs", "20",
                             "--max-secs", "120")
    job = results[f"{tiny_tflite.stem}/xnnpack"]
    assert code == 1 and job["status"] == "failed", job
    assert "longer than its settings allow (1" in job["error"] and "20 runs of" in job["error"], job["error"]
    assert "its last line: 'INFO: Running benchmark for at least 20 iterations" in job["error"], job["error"]
    assert main(["export", "latest"]) == 0
    stored = next(r for r in json.loads(capsys.readouterr().out)["results"] if r["job_id"] == job["job_id"])
    assert stored["failure"] == "transport"  # a hang: --resume runs it again
    assert "Initialized session in" in stored["tool_output"] and "count=1 " in stored["tool_output"]
    assert main(["report", "--raw", job["job_id"]]) == 0
    assert "INFO: Running benchmark for at least 20 iterations" in capsys.readouterr().out
    assert not _tools_running_on(phone)  # killed on the phone, not left deadlocked there


def _tools_running_on(phone: Path) -> list[str]:
    """Command lines of the simulated phone's benchmark_model processes still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if entry.name.isdigit() and "benchmark_model" in line and str(phone) in line:
                found.append(line)
    return found


def test_the_tool_crashes(phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with injected(phone, crash_on_command="--use_gpu=true"):
        code, results = _run([tiny_tflite], capsys, "--accelerators", "gpu,xnnpack")
    _check(code, results, f"{tiny_tflite.stem}/gpu",
           "(exit 139: killed by SIGSEGV, its last line: 'Segmentation fault')")


def test_the_link_drops_during_a_run_and_the_phone_comes_back(phone: Path, tiny_tflite: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with injected(phone, disconnect_on_command="--use_gpu=true"):
        code, results = _run([tiny_tflite], capsys, "--accelerators", "gpu,xnnpack")
    _check(code, results, f"{tiny_tflite.stem}/gpu", "lost phone")


def test_the_link_drops_during_a_push(phone: Path, tiny_tflite: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    fresh = tmp_path / "fresh.tflite"
    fresh.write_bytes(tiny_tflite.read_bytes() + b"\0" * 64)  # new bytes: it must be pushed
    with injected(phone, disconnect_on_push_bytes=1):
        code, results = _run([fresh, tiny_tflite], capsys, "--accelerators", "xnnpack")
    _check(code, results, "fresh/xnnpack", "failed")


def _reconnect(phone: Path) -> None:
    """Drop the phone from the adb server and attach it again: a new handshake, with the faults set now."""
    state = json.loads((phone.parents[1] / "state.json").read_text())
    serial, adb = state["phones"][0]["serial"], [adb_binary(), "-P", str(state["adb_port"])]
    subprocess.run([*adb, "disconnect", serial], capture_output=True, timeout=30, check=True)
    subprocess.run([*adb, "connect", serial], capture_output=True, timeout=30, check=True)
    subprocess.run([*adb, "-s", serial, "wait-for-device"], capture_output=True, timeout=30, check=True)


def test_a_slow_link_still_moves_every_byte_and_every_job_runs(phone: Path, tiny_tflite: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    fresh = tmp_path / "slow.tflite"
    fresh.write_bytes(tiny_tflite.read_bytes() + os.urandom(200_000))  # new bytes, pushed in 1 KB messages
    with injected(phone, max_payload=1024):
        _reconnect(phone)  # the message size is agreed in the handshake
        try:
            code, results = _run([fresh, tiny_tflite], capsys, "--accelerators", "xnnpack")
        finally:
            set_faults(phone)
            _reconnect(phone)
    assert code in (0, 2) and all(r["status"] == "ok" and r["latency_ms"]["mean"] > 0 for r in results.values())
    digest = hashlib.sha256(fresh.read_bytes()).hexdigest()
    assert (phone / f"data/local/tmp/bench/models/{digest}.tflite").read_bytes() == fresh.read_bytes()


def test_the_disk_is_full(phone: Path, tiny_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.tflite"
    big.write_bytes(tiny_tflite.read_bytes() + b"\0" * 3_000_000)
    set_free_bytes(phone, 1_000_000)
    try:
        code, results = _run([big, tiny_tflite], capsys, "--accelerators", "xnnpack")
    finally:
        (phone / ".sim/free_kb").unlink()
    _check(code, results, "big/xnnpack", "MB free in /data/local/tmp/bench/models")


def test_the_phone_heats_up_during_a_run(phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def heat() -> None:
        time.sleep(1.0)
        set_temperature(phone, 58.0)

    heater = threading.Thread(target=heat)
    heater.start()
    try:
        code, results = _run([tiny_tflite], capsys, "--accelerators", "xnnpack", "--min-secs", "3", "--max-secs", "5",
                             "--strict")
    finally:
        heater.join()
        set_temperature(phone, 36.0)
    result = results[f"{tiny_tflite.stem}/xnnpack"]
    assert code == 2 and result["status"] == "ok"  # --strict: measured, but the phone was not in benchmark state
    assert any("heated by 22.0 °C during the job" in w for w in result["warnings"])


def test_a_phone_lost_for_good_marks_the_rest_not_run_and_a_resume_finishes_them(
        phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The job the phone was lost in fails for the link; after one wait for the phone to come back, the jobs
    after it are not tried (each would wait in turn) but marked not run; `--resume` runs both again once the
    phone is back, never the jobs that were measured, and the run is then complete."""
    with injected(phone, gone_on_command="--use_gpu=true"):
        code, results = _run([tiny_tflite], capsys, "--accelerators", "xnnpack,gpu,none")
    gpu, later = results[f"{tiny_tflite.stem}/gpu"], results[f"{tiny_tflite.stem}/none"]
    assert code == 1 and results[f"{tiny_tflite.stem}/xnnpack"]["status"] == "ok"
    assert gpu["status"] == "failed" and "lost phone" in gpu["error"]
    assert later["status"] == "failed" and later["error"].startswith("not run: phone") and \
        "did not come back" in later["error"]
    _reconnect(phone)

    assert main(["runs", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)[0]
    assert not run["complete"] and [j.split("/")[-2] for j in run["resume_retries"]] == ["gpu", "none"]
    assert main(["runs"]) == 0
    assert "a resume runs again: sim1/tiny/original/gpu/t" in capsys.readouterr().out

    assert main(["run", "--resume", run["run_id"], "--json"]) in (0, 2)
    again = {r["accelerator"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert all(r["status"] == "ok" for r in again.values()), again
    assert main(["export", run["run_id"]]) == 0
    exported = {r["accelerator"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert "lost phone" in exported["gpu"]["earlier_errors"][0] and exported["xnnpack"]["earlier_errors"] == []
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["complete"]


def test_a_crashing_tool_is_not_run_again_by_resume(phone: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with injected(phone, crash_on_command="--use_gpu=true"):
        code, _ = _run([tiny_tflite], capsys, "--accelerators", "gpu,xnnpack")
    assert code == 1 and main(["runs", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)[0]
    assert run["complete"] and run["resume_retries"] == []  # the tool failed on its own: it would again
    assert main(["run", "--resume", run["run_id"]]) == 1
    assert "2 jobs, 0 to do" in caplog.text
