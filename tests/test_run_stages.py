"""`bench run` end to end on the host with small models, plus failure, interruption and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import Config, with_overrides
from bench.datasets.subsets import SubsetRule
from bench.results.records import JobStatus
from bench.results.store import Store
from bench.run.stages import execute_run
from tests.imagefixtures import class_folders

QUICK = {"num_runs": 5, "min_secs": 0.0, "warmup_min_secs": 0.0, "max_secs": 20.0}


def _config(models: list[str], **extra) -> Config:  # type: ignore[no-untyped-def]
    return with_overrides(Config(), models=models, variants=["original"], **{**QUICK, **extra})


def test_one_run_measures_every_job_and_stores_it(tiny_tflite: Path, tmp_path: Path) -> None:
    config = _config([str(tiny_tflite)], accelerators=["xnnpack", "none"], threads=[1, 2],
                     imagenet=class_folders(tmp_path / "val"))
    with Store(tmp_path / "s.sqlite") as store:
        outcome = execute_run(config, store, tmp_path / "cache")
        assert len(outcome.results) == 4 and not outcome.failed
        first = outcome.results[0]
        assert first.job_id == "local/tiny/original/xnnpack/t1"
        assert first.raw is not None and len(first.raw.latencies_ms) >= 5
        _, height, width, _ = first.raw.input_shape  # tiny's one 3x3 conv, 3 to 8 channels, at the timed size
        assert first.macs == height * width * 8 * 3 * 3 * 3
        assert first.accuracy is not None and first.accuracy.images == 9  # 12 images minus the calibration split
        assert first.state_before is not None and first.state_after is not None
        assert {r.accelerator for r in outcome.results} == {"xnnpack", "none"}
        assert store.run(outcome.run_id).complete


def test_an_unreadable_image_is_named_under_the_table(tiny_tflite: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.datasets.layouts import load_imagenet
    from bench.datasets.subsets import eval_subset

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    root = class_folders(tmp_path / "val")
    victim = eval_subset(load_imagenet(root).images, None, SubsetRule.FIRST).images[0]
    victim.path.write_bytes(victim.path.read_bytes()[:300])  # truncated: it cannot be decoded
    code = main(["run", "--model", str(tiny_tflite), "--variants", "original", "--imagenet", str(root),
                 *[f"--{k.replace('_', '-')}={v}" for k, v in QUICK.items()], "--store", str(tmp_path / "s.sqlite")])
    out = capsys.readouterr().out
    assert code == 0
    assert f"1 ImageNet image(s) could not be read, skipped and not counted in top-1/top-5: {victim.name}" in out
    assert "accuracy on 8 ImageNet val images" in out


def test_a_failing_job_is_recorded_and_the_rest_goes_on(tiny_tflite: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer at all")
    config = _config([str(broken), str(tiny_tflite)])
    with Store(tmp_path / "s.sqlite") as store:
        outcome = execute_run(config, store, tmp_path / "cache")
    statuses = {r.model.rsplit("/", 1)[-1]: r for r in outcome.results}
    assert statuses["broken.tflite"].status is JobStatus.FAILED
    error = statuses["broken.tflite"].error or ""
    assert f"{broken}: LiteRT cannot load it" in error and ".tmp" not in error  # the user's file, not the cache's
    assert statuses["tiny.tflite"].status is JobStatus.OK


def test_run_json_has_the_stable_names(tiny_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_IMAGENET", raising=False)
    code = main(["run", "--model", str(tiny_tflite), "--variants", "original", "--num-runs", "5", "--min-secs", "0",
                 "--warmup-min-secs", "0", "--store", str(tmp_path / "s.sqlite"), "--json"])
    printed = capsys.readouterr()
    payload = json.loads(printed.out)
    assert code == 0  # measured: instability is a warning, an exit code only with --strict
    assert set(payload) >= {"run_id", "device", "results"}
    assert set(payload["device"]) >= {"id", "platform", "model"}
    result = payload["results"][0]
    assert set(result) >= {"model", "variant", "accelerator", "threads", "status", "error", "model_size_bytes",
                           "input_shape", "init_ms", "first_inference_ms", "latency_ms", "fps", "peak_rss_mb",
                           "accuracy"}
    assert set(result["latency_ms"]) >= {"mean", "std", "min", "p50", "p90", "p99", "max", "ci95_p50"}
    assert result["accuracy"] is None and result["status"] == "ok"
    assert main(["report", "latest", "--format", "md", "--store", str(tmp_path / "s.sqlite")]) == 0
    assert "accuracy not measured: pass --imagenet" in capsys.readouterr().out


def test_each_row_is_printed_as_it_lands_and_library_chatter_only_with_verbose(
        tiny_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "--model", str(tiny_tflite), "--num-runs", "5", "--min-secs", "0", "--warmup-min-secs", "0",
                 "--threads", "1,2", "--store", store]) == 0
    err = capsys.readouterr().err
    assert "[1/2] original xnnpack t1: p50 " in err and "[2/2] original xnnpack t2: p50 " in err

    def report(*verbose: str) -> str:  # matplotlib logs "generated new fontManager" when it builds its font cache
        env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / f"mpl{len(verbose)}")}
        return subprocess.run([sys.executable, "-m", "bench", *verbose, "report", "latest", "--format", "html",
                               "--store", store, "--out", str(tmp_path / f"site{len(verbose)}")],
                              env=env, capture_output=True, text=True, check=True).stderr

    assert "fontManager" not in report() and "fontManager" in report("-v")


def test_threads_zero_and_unknown_variant_are_one_line_errors(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    assert main(["run", "--threads", "0", "--store", str(tmp_path / "s.sqlite")]) == 1
    assert "at least 1" in capsys.readouterr().err
    assert main(["run", "--variants", "int3", "--store", str(tmp_path / "s.sqlite")]) == 1


def _jobs_in_store(path: Path) -> list[str]:
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(path, timeout=1)
        try:
            return [row[0] for row in db.execute("SELECT job_id FROM jobs")]
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return []


def test_killed_mid_run_then_resumed_loses_and_repeats_nothing(tiny_tflite: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"), "BENCH_IMAGENET": ""}
    command = [sys.executable, "-m", "bench", "run", "--model", str(tiny_tflite), "--variants", "original",
               "--threads", "1,2", "--accelerators", "xnnpack,none", "--num-runs", "5", "--min-secs", "1.0",
               "--warmup-min-secs", "0", "--store", str(store)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_jobs_in_store(store)) < 1 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    measured = _jobs_in_store(store)
    assert 1 <= len(measured) < 4, "the run should have been killed between jobs"
    with Store(store) as opened:
        run_id = opened.run("latest").run_id
    done = subprocess.run([*command, "--resume", run_id], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 2), done.stderr
    final = _jobs_in_store(store)
    assert sorted(final) == sorted(set(final)) and len(final) == 4
    assert set(measured) <= set(final)


def test_a_dropped_link_is_tried_again_a_failing_tool_is_not_and_a_run_stops_after_repeated_failures(
    tiny_tflite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.errors import DeviceError, ToolFailedError
    from bench.run import stages as pipeline

    real = pipeline.measure_alone
    calls: dict[str, int] = {}

    def flaky(context, job, *args):  # type: ignore[no-untyped-def]
        calls[job.job_id] = calls.get(job.job_id, 0) + 1
        if job.accelerator == "xnnpack" and job.threads == 1 and calls[job.job_id] == 1:
            raise DeviceError("lost phone X during the run (connection reset)")
        if job.accelerator == "none":
            raise ToolFailedError("benchmark_model failed: Segmentation fault")
        return real(context, job, *args)

    monkeypatch.setattr(pipeline, "measure_alone", flaky)
    retried: list[tuple[str, int, str]] = []
    config = _config([str(tiny_tflite)], accelerators=["xnnpack", "none"], threads=[1, 2])
    hooks = pipeline.Hooks(retries=2, on_retry=lambda job, attempt, why: retried.append((job, attempt, why)),
                           stop_after_failures=1)
    with Store(tmp_path / "s.sqlite") as store:
        outcome = execute_run(config, store, tmp_path / "cache", hooks=hooks)
    by_id = {r.job_id: r for r in outcome.results}
    assert by_id["local/tiny/original/xnnpack/t1"].status is JobStatus.OK  # the second try worked
    assert retried == [("local/tiny/original/xnnpack/t1", 1, "lost phone X during the run (connection reset)")]
    assert calls["local/tiny/original/none/t1"] == 1  # never retried
    # jobs run xnnpack/t1, xnnpack/t2, none/t1, none/t2: the failure of none/t1 stops the run
    assert outcome.stopped is not None and "1 jobs in a row failed" in outcome.stopped
    assert outcome.not_run == ("local/tiny/original/none/t2",) and "local/tiny/original/none/t2" not in by_id


def test_jobs_run_together_are_measured_as_one_unit() -> None:
    from bench.plan import plan_jobs
    from bench.run.stages import measuring_units

    config = with_overrides(Config(), variants=["fp32", "int8"], concurrent=["fp32", "int8"], threads=[1, 2])
    units = measuring_units(plan_jobs(config, "local", 4))
    assert [len(u) for u in units] == [1, 1, 1, 1, 2, 2]  # four jobs alone, then each thread count's pair
    assert [j.label for j in units[-1]] == ["fp32 with int8", "int8 with fp32"]


def test_variants_built_beforehand_are_used_and_only_the_missing_ones_built(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.models.build import BuildOutcome
    from bench.plan import plan_jobs
    from bench.results.device_records import Platform
    from bench.run import builds

    config = with_overrides(Config(), variants=["fp32", "int8"])
    todo = plan_jobs(config, "pixel", 8, platform=Platform.ANDROID)
    built = {("efficientnet_lite0", v): BuildOutcome(model="efficientnet_lite0", variant=v, path=None, manifest=None,
                                                     cache_hit=True, duration_s=0.0) for v in ("fp32", "int8")}
    asked: list[list[str]] = []
    monkeypatch.setattr(builds, "build_for", lambda config, jobs, *a: asked.append([j.variant for j in jobs]) or {})
    run_builds = builds.RunBuilds(config, tmp_path, Platform.ANDROID, built)
    run_builds.ensure(todo)
    assert asked == [] and run_builds.get(("efficientnet_lite0", "int8")) is built[("efficientnet_lite0", "int8")]
    partial = builds.RunBuilds(config, tmp_path, Platform.ANDROID, {k: built[k] for k in list(built)[:1]})
    partial.ensure(todo)
    assert asked == [["int8"]]  # the night built fp32; the run builds (or finds in the cache) only int8


def test_each_variant_is_built_just_before_its_rows_and_pruning_last(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The first row does not wait for every build: fp32 is measured before int8 is built, and the
    fine-tuned pruned variant, named second, is built and measured last; the result keeps plan order."""
    from bench.models.build import BuildOutcome
    from bench.plan import Job
    from bench.results.records import JobResult
    from bench.run import builds, stages

    events: list[str] = []

    def build_for(config: Config, jobs: list[Job], *args: object) -> dict[tuple[str, str], BuildOutcome]:
        events.extend(f"build {j.variant}" for j in jobs)
        return {(j.model, j.variant): BuildOutcome(model=j.model, variant=j.variant, path=None, manifest=None,
                                                   cache_hit=False, duration_s=0.0) for j in jobs}

    def measure_alone(context: object, job: Job, measured: object) -> JobResult:
        events.append(f"measure {job.variant}")
        return JobResult(job_id=job.job_id, model=job.model, variant=job.label, model_sha256="x",
                         accelerator=job.accelerator, threads=job.threads, status=JobStatus.OK)

    monkeypatch.setattr(builds, "build_for", build_for)
    monkeypatch.setattr(stages, "measure_alone", measure_alone)
    config = with_overrides(Config(), variants=["fp32", "pruned50", "int8", "res160"], threads=[1])
    with Store(tmp_path / "s.sqlite") as store:
        outcome = execute_run(config, store, tmp_path / "cache")
    assert events == ["build fp32", "measure fp32", "build int8", "measure int8", "build res160", "measure res160",
                      "build pruned50", "measure pruned50"]
    assert [r.variant for r in outcome.results] == ["fp32", "pruned50", "int8", "res160"]


def test_a_run_refused_for_its_images_leaves_no_run_in_the_store(tiny_tflite: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "odd"
    (odd / "photos").mkdir(parents=True)
    (odd / "photos" / "cat.jpg").write_bytes(b"not really")
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "--model", str(tiny_tflite), "--imagenet", str(odd), "--store", store]) == 1
    assert "error: " in capsys.readouterr().err
    assert main(["runs", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
