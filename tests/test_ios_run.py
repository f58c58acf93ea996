"""`bench run --device iphone` end to end on a fake port: Core ML variants built, the runner driven, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from tests.iosfake import UDID, FakePort, make_ipa

pytest.importorskip("coremltools", reason="the ios extra (coremltools) is not installed")


@pytest.fixture
def iphone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_cache: Path, lite0_coreml) -> FakePort:  # type: ignore[no-untyped-def]
    port = FakePort(tmp_path / "container")
    monkeypatch.setattr("bench.devices.select.ios_port", lambda: port)
    monkeypatch.setattr("bench.devices.ios.backend.SAMPLE_EVERY_S", 0.0)
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(session_cache))  # the session's variants: nothing is rebuilt
    monkeypatch.delenv("BENCH_IMAGENET", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "devices").mkdir()
    make_ipa(tmp_path / "devices" / "BenchRunner.ipa")
    (tmp_path / "devices" / "lab.toml").write_text(
        f'[[device]]\nalias = "iphone"\nplatform = "ios"\nudid = "{UDID}"\nrunner_ipa = "BenchRunner.ipa"\n')
    return port


def test_a_run_on_an_iphone_gives_the_table_with_compute_units(iphone: FakePort,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--device", "iphone", "--variants", "fp32,fp16,int8", "--accelerators",
                 "cpuAndNeuralEngine,cpuOnly", "--num-runs", "20", "--json"])
    assert code in (0, 2)
    run = json.loads(capsys.readouterr().out)
    assert run["device"]["platform"] == "ios" and run["device"]["model"] == "Lab iPhone (iPhone15,2)"
    results = {(r["variant"], r["accelerator"]): r for r in run["results"]}
    assert len(results) == 6 and all(r["status"] == "ok" for r in results.values()), results
    assert results[("int8", "cpuAndNeuralEngine")]["accelerator_used"] == "cpuAndNeuralEngine"
    assert results[("fp16", "cpuOnly")]["latency_ms"]["count"] == 20
    assert iphone.installs == 1  # installed once, then found current
    assert sorted(p.split("/")[-1].split(".")[1] for p in iphone.pushed) == ["mlpackage"] * 3  # one per variant
    assert main(["report", "latest"]) == 0
    table = capsys.readouterr().out
    assert "compute units" in table and "cpuAndNeuralEngine" in table and "phys_footprint" in table
    assert main(["export", "latest"]) == 0
    exported = json.loads(capsys.readouterr().out)["results"][0]
    assert exported["raw"]["engine"] == "coreml" and exported["raw"]["compile_ms"] == 812.5


def test_a_neural_engine_that_took_nothing_is_marked_in_the_table(iphone: FakePort,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    iphone.compute_plan = {"cpu": 64, "gpu": 0, "neuralEngine": 0}
    assert main(["run", "--device", "iphone", "--variants", "fp16", "--accelerators", "cpuAndNeuralEngine",
                 "--num-runs", "5"]) in (0, 2)
    assert "cpuAndNeuralEngine -> cpu (fallback from cpuAndNeuralEngine)" in capsys.readouterr().out


def test_a_thermal_state_that_throttled_flags_the_job(iphone: FakePort, capsys: pytest.CaptureFixture[str]) -> None:
    iphone.thermal = ("fair", "serious")
    assert main(["run", "--device", "iphone", "--variants", "fp16", "--num-runs", "5", "--json", "--strict"]) == 2
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["status"] == "ok" and any("thermal status was serious" in w for w in result["warnings"])


def test_an_iphone_takes_part_in_lab_nights(iphone: FakePort, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text('[run]\nvariants = ["fp16"]\naccelerators = ["cpuOnly"]\nnum_runs = 30\n\n'
                      '[lab]\ndevices = ["iphone"]\nwindow = 5\n')

    def night() -> tuple[int, dict]:  # type: ignore[type-arg]
        capsys.readouterr()
        code = main(["lab", "run", "--config", str(config), "--json"])
        return code, json.loads(capsys.readouterr().out)["phones"]["iphone"]

    for _ in range(3):
        code, phone = night()
        assert code == 0 and phone["status"] == "done" and phone["ok"] == 1, phone
    assert phone["series"][0]["status"] == "judged"
    iphone.slowdown = 1.5  # the runner's own per-prediction latencies: judged on the raw runs
    code, phone = night()
    latency = next(v for v in phone["series"][0]["verdicts"] if v["kind"] == "latency")
    assert code == 3 and latency["status"] == "regression" and "Mann-Whitney" in latency["test"], phone
    iphone.battery_percent = 5.0
    code, phone = night()
    assert code == 0 and phone["status"] == "quarantined" and "battery at 5%" in phone["reasons"][0], phone
    assert iphone.installs == 1


def test_an_iphone_sustains_back_to_back_and_says_it_has_no_fixed_rate(iphone: FakePort,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--device", "iphone", "--variants", "fp16", "--sustained", "3s", "--window-s", "1",
                 "--json"]) == 0
    sustained = json.loads(capsys.readouterr().out)["results"][0]["sustained"]
    assert sustained["windows"] >= 2 and sustained["minutes"][0]["p99_ms"] is not None  # the app gives every run
    assert main(["run", "--device", "iphone", "--variants", "fp16", "--sustained", "3s", "--rate", "30",
                 "--json"]) == 1
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["status"] == "failed" and "drop --rate" in result["error"]


def test_the_job_page_shows_memory_by_phase_and_which_one_the_table_shows(
        iphone: FakePort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--device", "iphone", "--variants", "fp16", "--accelerators", "cpuAndNeuralEngine",
                 "--num-runs", "5"]) in (0, 2)
    assert "during the timed predictions" in capsys.readouterr().out  # the table's note says which peak it shows
    assert main(["report", "latest", "--format", "html", "--out", str(tmp_path / "site")]) == 0
    page = next((tmp_path / "site").rglob("jobs/*.html")).read_text()
    for row, value in (("phys_footprint peak while compiling", "140.8"), ("phys_footprint peak while loading", "88.0"),
                       ("phys_footprint peak during timed predictions", "63.5"),
                       ("phys_footprint lifetime peak", "140.8")):
        assert row in page and value in page.split(row, 1)[1][:300], row
    assert "the table&#39;s peak MB" in page.split("during timed predictions", 1)[1][:400]
    assert "Neural Engine or GPU holds outside the app" in page
