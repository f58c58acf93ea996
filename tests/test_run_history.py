"""A run judged against the store's history: regressions, new series, and changes that are not comparable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.device_records import DeviceInfo, Platform
from bench.results.records import AccuracyResult, JobResult, JobStatus, RawRun
from bench.results.stats import latency_stats
from bench.results.store import Store

PHONE = DeviceInfo(id="SERIAL1", platform=Platform.ANDROID, model="Pixel 7", os="Android 14", build="A")


def _result(level: float, seed: int, *, sha: str = "ab" * 32, correct: str = "1" * 90 + "0" * 10,
            tool: str = "sha256:1234") -> JobResult:
    latencies = tuple(float(v) for v in np.random.default_rng(seed).normal(level, 0.03 * level, 60))
    raw = RawRun(engine="benchmark_model", engine_version=tool, init_ms=20.0, first_inference_ms=2 * level,
                 warmup_ms=(), latencies_ms=latencies, peak_rss_after_init_mb=50.0, peak_rss_mb=70.0,
                 model_size_bytes=1000, input_shape=(1, 224, 224, 3), accelerator_used="xnnpack", raw_output="")
    accuracy = AccuracyResult(top1=correct.count("1") / len(correct), top5=1.0, images=len(correct),
                              subset={"names_sha256": "cafe"}, correct_top1=correct)
    return JobResult(job_id="pixel/lite0/int8/xnnpack/t4", model="lite0", variant="int8", model_sha256=sha,
                     accelerator="xnnpack", threads=4, status=JobStatus.OK, raw=raw,
                     latency_ms=latency_stats(latencies), accuracy=accuracy)


def _night(store: Store, number: int, result: JobResult, device: DeviceInfo = PHONE) -> str:
    run_id = f"2026112{number}-000000-pixel-000{number}"
    store.create_run(run_id=run_id, device=device, plan=[{"job_id": result.job_id}], config={}, bench_version="0.1")
    store.save_job(run_id, result)
    return run_id


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        for night in range(4):
            _night(store, night, _result(10.0, night))
    return path


def test_a_slower_night_is_a_regression_with_exit_code_3(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(store_path) as store:
        run_id = _night(store, 5, _result(11.5, 50))
    assert main(["regress", run_id, "--store", str(store_path)]) == 3
    out = capsys.readouterr().out
    assert "latency: REGRESSION" in out and "Mann-Whitney" in out and "+1" in out
    assert main(["regress", run_id, "--store", str(store_path), "--no-fail"]) == 0


def test_a_steady_night_passes_and_accuracy_is_judged_on_the_same_images(store_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with Store(store_path) as store:
        steady = _night(store, 5, _result(10.05, 51))
    assert main(["regress", steady, "--store", str(store_path), "--json"]) == 0
    series = json.loads(capsys.readouterr().out)["series"][0]
    assert series["status"] == "judged" and len(series["baseline_runs"]) == 4
    assert [v["kind"] for v in series["verdicts"]] == ["latency", "accuracy", "memory"]
    with Store(store_path) as store:
        worse = _night(store, 6, _result(10.0, 52, correct="0" * 20 + "1" * 70 + "0" * 10))
    assert main(["regress", worse, "--store", str(store_path), "--json"]) == 3
    verdicts = json.loads(capsys.readouterr().out)["series"][0]["verdicts"]
    assert [v["status"] for v in verdicts if v["kind"] == "accuracy"] == ["regression"]


def test_a_changed_model_file_is_not_comparable_not_a_regression(store_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with Store(store_path) as store:
        run_id = _night(store, 5, _result(15.0, 53, sha="cd" * 32))
    assert main(["regress", run_id, "--store", str(store_path), "--json"]) == 0
    series = json.loads(capsys.readouterr().out)["series"][0]
    assert series["status"] == "not comparable" and series["changed"]["model_sha256"] == ["ab" * 32, "cd" * 32]


def test_an_os_update_is_shown_next_to_the_verdict(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import replace

    with Store(store_path) as store:
        run_id = _night(store, 5, _result(10.0, 54), device=replace(PHONE, build="B"))
    assert main(["regress", run_id, "--store", str(store_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["series"][0]["changed"] == {"build": ["A", "B"]}


def test_the_first_run_of_a_device_is_a_new_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.sqlite"
    with Store(path) as store:
        run_id = _night(store, 1, _result(10.0, 1))
    assert main(["regress", run_id, "--store", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["series"][0]["status"] == "new series"


def test_the_device_page_shows_the_series_over_time_and_its_regression(store_path: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from bench.reports import site

    with Store(store_path) as store:
        _night(store, 5, _result(12.0, 60), device=replace(PHONE, build="B"))
        data = [site.RunData(record=r, results=store.job_results(r.run_id)) for r in store.runs(limit=None)]
    site.write_site(data, tmp_path / "site")
    page = next((tmp_path / "site" / "devices").glob("*.html")).read_text()
    assert "Latency over time" in page and 'id="regressions"' in page
    regressions = page.split('id="regressions"')[1].split("</table>")[0]
    assert ["pixel", "lite0/int8/xnnpack/t4"][1] in regressions and "Mann-Whitney" in regressions
    assert regressions.count("<tr>") == 2  # the header and the one regressed run
    svg = next((tmp_path / "site" / "devices").glob("*-trends.svg")).read_text()
    assert "OS Android 14 A -&gt; Android 14 B" in svg or "OS Android 14 A -> Android 14 B" in svg


def test_a_step_in_a_long_series_is_told_by_regress_and_drawn_as_levels(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from bench.reports.trends import device_series

    path = tmp_path / "r.sqlite"
    with Store(path) as store:
        for night in range(9):
            last = _night(store, night, _result(10.0 if night < 6 else 12.0, 70 + night))
        history = [(r, store.job_results(r.run_id)) for r in reversed(store.runs(limit=None))]
    assert main(["regress", last, "--store", str(path)]) == 3  # tonight is still slower than the window's median
    out = capsys.readouterr().out
    assert "step: step: the level moved from 10.0" in out and "2026112" + "6-000000-pixel-0006" in out
    (series,) = device_series(history)
    assert [(first, last_position) for first, last_position, _ in series.levels] == [(0, 5), (6, 8)]
    assert [round(level) for _, _, level in series.levels] == [10, 12]
