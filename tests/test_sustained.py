"""Sustained runs end to end: on this host, and on a simulated phone that heats and throttles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.sim.profiles import set_faults
from tests.simfixtures import simulated_phones


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["run", *args, "--variants", "original", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    return out["results"][0]  # type: ignore[no-any-return]


def test_a_sustained_run_on_the_host(tiny_tflite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    result = _run(capsys, "--device", "local", "--model", str(tiny_tflite), "--sustained", "8s", "--window-s", "2",
                  "--rate", "100")
    sustained = result["sustained"]
    assert result["status"] == "ok" and 4 <= sustained["windows"] <= 5, sustained
    (minute,) = sustained["minutes"]
    # frames were offered at 100 FPS and the tiny model keeps up: about 100 runs a second, none dropped
    assert 80 <= minute["fps"] <= 101 and minute["p99_ms"] is not None, minute
    assert sustained["dropped_share"] < 0.05 and "replay" in sustained["dropped_method"]
    assert result["latency_ms"]["count"] == minute["runs"]  # every inference of every window is kept
    capsys.readouterr()
    assert main(["export", "latest"]) == 0
    window = json.loads(capsys.readouterr().out)["results"][0]["sustained"]["windows"][1]
    starts = window["run_starts_s"]  # each inference's start: on the 10 ms schedule of 100 FPS
    assert len(starts) == len(window["latencies_ms"]) and 0.008 < starts[1] - starts[0] < 0.03, starts[:3]
    assert main(["publish", "--out", str(tmp_path / "site")]) == 0
    page = next((tmp_path / "site").glob("runs/*/jobs/*.html")).read_text()
    assert "Sustained run" in page and 'id="minutes"' in page and "-sustained.svg" in page


def test_a_model_slower_than_the_frame_budget_drops_frames_on_the_host(
        lite0_variants, session_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(session_cache))  # the session's variants: nothing is rebuilt
    capsys.readouterr()
    assert main(["run", "--device", "local", "--variants", "fp16", "--threads", "1", "--sustained", "6s",
                 "--window-s", "2", "--rate", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    sustained = result["sustained"]
    budget_ms = 1000 / 200  # EfficientNet-Lite0 takes several times that on one core of this host
    assert result["latency_ms"]["p50"] > budget_ms and sustained["dropped_share"] > 0.3, sustained
    assert sustained["minutes"][0]["fps"] < 200 * (1 - sustained["dropped_share"]) * 1.2


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with simulated_phones(tmp_path_factory.mktemp("sustained"), 1) as phones:
        yield phones / "phone1"


def test_a_phone_that_heats_is_seen_to_throttle_and_drop_frames(phone: Path, tiny_tflite: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # 20 ms per inference (a budget of 25 ms at 40 FPS) until 40 °C, then twice as long
    set_faults(phone, invoke_delay_ms=20.0, heating={"rise_c_per_s": 0.6, "throttle_above_c": 40.0, "slowdown": 2.0})
    result = _run(capsys, "--device", "sim1", "--model", str(tiny_tflite), "--sustained", "24s", "--window-s", "2",
                  "--rate", "40", "--num-runs", "1")
    sustained = result["sustained"]
    assert sustained["throttle_onset_s"] is not None and 4.0 <= sustained["throttle_onset_s"] <= 20.0, sustained
    temperatures = [c for _, c, _ in sustained["temperature_c"] if c is not None]
    assert temperatures[-1] > 40.0 > temperatures[0], temperatures  # read back over ADB as it rose
    assert sustained["dropped_share"] > 0.1 and "mean" in sustained["dropped_method"], sustained
    (minute,) = sustained["minutes"]
    assert minute["p50_ms"] is None and minute["mean_ms"] > 25.0  # benchmark_model prints only means
