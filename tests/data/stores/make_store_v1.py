"""Write `store-v1.sqlite`: a result store as bench 0.x wrote it at schema version 1.

It was made once, by running this file with bench as it was at commit f8bbaa6 (`python
tests/data/stores/make_store_v1.py`), and is committed as it came out: later code must keep reading
it (tests/test_results_store_compat.py). Running this file with later code writes that code's
format instead, so never remake the fixture; write a new file for a new version.

The runs are small but hold every kind of result that version stored: host runs with per-run
latencies and accuracy, an Android run with benchmark_model's summary, delegates, an operator
profile, a cool-down, a run_eval score and a host reference, an iPhone run with Core ML's compile
time and phys_footprint, models run at the same time, a pipeline of models, a sustained job and a
failed job. Numbers are made up in the shapes the tools give.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from bench.run.frame_pipeline import pipeline_facts

from bench.devices.android.tool_result import raw_run
from bench.devices.base import ModelJob, RunSettings
from bench.plan import Job
from bench.results.records import (
    AccuracyResult,
    DeviceInfo,
    DeviceState,
    JobResult,
    JobStatus,
    Platform,
    RawRun,
    SustainedResult,
    SustainedWindow,
)
from bench.results.stats import summarize
from bench.results.store import Store
from bench.results.sustained import dropped_frames, per_minute, reference_s, throttle_onset
from bench.run.concurrent import Together, contention_facts

HERE = Path(__file__).resolve().parent


def state(at: str, temp: float, status: str | None = None) -> DeviceState:
    return DeviceState(captured_at=at, temperatures_c={"cpu-0-0": temp, "battery": temp - 6.0},
                       thermal_status=status, battery_percent=81.0, charging=True, governor="schedutil",
                       cpu_freq_khz={"cpu0": 1785600, "cpu7": 2841600}, load_average_1m=0.4, screen_on=False,
                       fixed_performance=None)


def raw(latencies: list[float], **extra: object) -> RawRun:
    base: dict[str, object] = dict(engine="litert-host/forked", engine_version="1.4.0", init_ms=41.2,
                                   first_inference_ms=19.8, warmup_ms=(17.1,), latencies_ms=tuple(latencies),
                                   peak_rss_after_init_mb=88.4, peak_rss_mb=96.0, model_size_bytes=18_562_612,
                                   input_shape=(1, 224, 224, 3), accelerator_used="xnnpack",
                                   raw_output="host runner report")
    base.update(extra)
    return RawRun(**base)  # type: ignore[arg-type]


def job(device: str, variant: str, accelerator: str = "xnnpack", threads: int = 1, **extra: object) -> Job:
    return Job(job_id=f"{device}/efficientnet_lite0/{variant}/{accelerator}/t{threads}", device=device,
               model="efficientnet_lite0", variant=variant, accelerator=accelerator, threads=threads,
               **extra)  # type: ignore[arg-type]


def result(j: Job, raw_run: RawRun | None, **extra: object) -> JobResult:
    stats = summarize(raw_run.latencies_ms, raw_run.summary_ms)[0] if raw_run is not None else None
    fields: dict[str, object] = dict(job_id=j.job_id, model=j.model, variant=j.variant, model_sha256="ab" * 32,
                                     accelerator=j.accelerator, threads=j.threads, status=JobStatus.OK, raw=raw_run,
                                     latency_ms=stats, state_before=state("2026-12-01T02:00:00+00:00", 38.0),
                                     state_after=state("2026-12-01T02:00:30+00:00", 41.5))
    fields.update(extra)
    return JobResult(**fields)  # type: ignore[arg-type]


def accuracy(top1: float, agreement: float | None, **extra: object) -> AccuracyResult:
    fields: dict[str, object] = dict(
        top1=top1, top5=0.96, images=4, failed_images=0, top1_agreement_with_fp32=agreement,
        subset={"split": "eval", "rule": "first", "requested": 4, "count": 4, "names_sha256": "cd" * 32},
        predictions_top5=((1, 2, 3, 4, 5), (7, 8, 9, 10, 11), (0, 1, 2, 3, 4), (999, 998, 997, 996, 995)),
        duration_s=1.5, correct_top1="1101")
    fields.update(extra)
    return AccuracyResult(**fields)  # type: ignore[arg-type]


def host_run(store: Store) -> None:
    info = DeviceInfo(id="host-1", platform=Platform.LOCAL, model="x86_64 host", soc="Intel Xeon", os="Linux 6.1",
                      abi="x86_64", cores=2, build="6.1.0")
    fp32, int8 = job("local", "fp32"), job("local", "int8")
    dyn = job("local", "dynamic@160", input_size=160)
    dyn = Job(job_id=dyn.job_id, device="local", model=dyn.model, variant="dynamic", accelerator="xnnpack",
              threads=1, input_size=160)
    together = Job(job_id="local/efficientnet_lite0/int8/xnnpack/t1/with-fp32", device="local",
                   model="efficientnet_lite0", variant="int8", accelerator="xnnpack", threads=1,
                   together=("fp32", "int8"))
    pipe = Job(job_id="local/pipeline-cascade/xnnpack/t1", device="local", model="efficientnet_lite0",
               variant="pipeline", accelerator="xnnpack", threads=1, pipeline="cascade")
    plan = [fp32, int8, dyn, together, pipe]
    store.create_run(run_id="20261201-020000-local-aaaa", device=info, plan=[j.to_dict() for j in plan],
                     config={"run": {"variants": ["fp32", "int8", "dynamic"], "num_runs": 50}},
                     bench_version="0.1.0")
    run_id = "20261201-020000-local-aaaa"
    store.save_job(run_id, result(fp32, raw([15.1, 15.3, 15.0, 15.6, 15.2, 15.4, 15.1, 15.2, 15.3, 15.0, 15.2]),
                                  accuracy=accuracy(0.75, 1.0)))
    int8_result = result(int8, raw([8.1, 8.2, 8.0, 8.3, 8.1, 8.2, 8.0, 8.1, 8.2, 8.1, 8.0], model_size_bytes=5_260_000),
                         accuracy=accuracy(0.75, 0.75), warnings=("the spread of the runs was wide",))
    store.save_job(run_id, int8_result)
    store.save_job(run_id, result(dyn, raw([11.0, 11.2, 11.1, 10.9, 11.0, 11.1, 11.3, 11.0, 11.1, 11.0, 11.2],
                                           input_shape=(1, 160, 160, 3)), variant="dynamic@160"))
    mine = Together(raw=raw([9.4, 9.6, 9.5, 9.7, 9.5, 9.4, 9.6, 9.5, 9.8, 9.5, 9.6]), started_s=0.1, ended_s=10.4)
    other = Together(raw=raw([17.0, 17.2, 16.9, 17.1, 17.0, 17.3, 17.1, 17.0, 16.8, 17.2, 17.1]), started_s=0.12,
                     ended_s=10.5)
    store.save_job(run_id, result(together, mine.raw, variant="int8 with fp32",
                                  concurrent=contention_facts("int8", mine, [mine, other], ("fp32", "int8"),
                                                              int8_result)))
    frames_ms = (8.2, 23.4, 8.1, 8.3, 8.2, 23.9, 8.0, 8.1, 8.2, 8.3, 23.1)
    planned = [("efficientnet_lite0", "int8", 1), ("efficientnet_lite0", "fp32", 4)]
    sha = {"int8": "ab" * 32, "fp32": "ef" * 32}
    stage_jobs = [(ModelJob(job_id=f"{pipe.job_id}/{v}", model_path=Path(f"{v}.tflite"), model_sha256=sha[v],
                            accelerator="xnnpack", threads=1, input_shape=None, input_name="images",
                            settings=RunSettings(num_runs=11, min_secs=0, max_secs=150, warmup_runs=1,
                                                 warmup_min_secs=0.5)), every) for _, v, every in planned]
    measured = [{"graph": "int8.tflite", "every": 1, "init_ms": 30.1, "latencies_ms": [8.1] * 11},
                {"graph": "fp32.tflite", "every": 4, "init_ms": 40.2, "latencies_ms": [15.2, 15.3, 15.4]}]
    store.save_job(run_id, result(pipe, raw(list(frames_ms), engine="litert-host/pipeline/forked", timed_s=0.37),
                                  model="pipeline:cascade", variant="pipeline",
                                  pipeline=pipeline_facts(planned, stage_jobs, measured, frames_ms, 0.37, 30.0)))


def phone_run(store: Store) -> None:
    info = DeviceInfo(id="R5CT1234", platform=Platform.ANDROID, model="Pixel 7", soc="Tensor G2", os="Android 14",
                      abi="arm64-v8a", cores=8, build="UQ1A.240105.004")
    int8, gpu, nnapi = job("pixel", "int8", threads=4), job("pixel", "fp32", "gpu", 4), job("pixel", "fp32", "nnapi", 4)
    sustained_job = Job(job_id="pixel/efficientnet_lite0/fp32/xnnpack/t4/sustained", device="pixel",
                        model="efficientnet_lite0", variant="fp32", accelerator="xnnpack", threads=4)
    plan = [int8, gpu, nnapi, sustained_job]
    run_id = "20261201-030000-pixel-bbbb"
    store.create_run(run_id=run_id, device=info, plan=[j.to_dict() for j in plan],
                     config={"run": {"variants": ["int8", "fp32"], "accelerators": ["xnnpack", "gpu", "nnapi"]}},
                     bench_version="0.1.0")
    # the phone's results come from our own benchmark_model outputs (tests/data/tool-outputs) through the parser
    outputs = HERE.parent / "tool-outputs"
    tool_raw = raw_run((outputs / "benchmark_model-op-profiling-ours.txt").read_text(), requested="xnnpack",
                       model_size_bytes=5_260_000, input_shape=(1, 224, 224, 3), tool_sha256="12" * 32,
                       sampled_vmhwm_mb=31.8)
    store.save_job(run_id, result(
        int8, tool_raw,
        cooldown={"below_c": 45.0, "waited_s": 35.0, "start_temp_c": 47.2, "end_temp_c": 44.6, "reached": True},
        accuracy=accuracy(0.5, 0.75, host_reference={"reference": "the same model file on the host CPU (LiteRT "
                                                                  "with XNNPACK), same images",
                                                     "top1_agreement": 1.0, "mean_abs_output_diff": 0.0012,
                                                     "max_abs_output_diff": 0.031})))
    fallback = raw_run((outputs / "benchmark_model-gpu-fallback-ours.txt").read_text(), requested="gpu",
                       model_size_bytes=18_562_612, input_shape=(1, 224, 224, 3), tool_sha256="12" * 32,
                       sampled_vmhwm_mb=None)
    scored = accuracy(0.5, None, predictions_top5=(), correct_top1="",
                      scored_by={"tool": "run_eval", "tool_sha256": "34" * 32, "preprocessing": "run_eval's own",
                                 "delegate_flag": None, "images": 4, "latency_ms": {"avg": 9.5},
                                 "pushed_bytes": 40_000, "wall_s": 3.2, "exit_code": 0,
                                 "topk": {"top1": 0.5, "top5": 1.0}})
    store.save_job(run_id, JobResult(job_id=nnapi.job_id, model=nnapi.model, variant="fp32", model_sha256="",
                                     accelerator="nnapi", threads=4, status=JobStatus.FAILED,
                                     error="benchmark_model crashed (signal 11); see the job's raw output"))
    store.save_job(run_id, result(gpu, fallback, accuracy=scored,
                                  warnings=("the device's thermal status was severe after the job",),
                                  state_after=state("2026-12-01T03:01:00+00:00", 52.0, "severe")))
    windows = (SustainedWindow(start_s=0.0, timed_s=10.0, count=1000, mean_ms=9.8, std_ms=0.3),
               SustainedWindow(start_s=10.4, timed_s=10.0, count=920, mean_ms=10.9, std_ms=0.5))
    samples = ((0.0, state("2026-12-01T03:02:00+00:00", 40.0)), (5.0, state("2026-12-01T03:02:05+00:00", 44.0)))
    dropped, method = dropped_frames(windows, 0.0)
    onset, evidence = throttle_onset(windows, samples, reference_s(20.0))
    sustained = SustainedResult(duration_s=20.0, rate_hz=0.0, window_s=10.0, windows=windows, samples=samples,
                                minutes=tuple(per_minute(windows, 0.0)), throttle_onset_s=onset,
                                throttle_evidence=evidence, dropped_share=dropped, dropped_method=method)
    store.save_job(run_id, result(sustained_job, raw([], engine="benchmark_model", engine_version="2.16.1",
                                                     summary_ms={"count": 1920.0, "avg": 10.3, "std": 0.6,
                                                                 "min": 9.1, "max": 13.0}),
                                  sustained=sustained))


def iphone_run(store: Store) -> None:
    info = DeviceInfo(id="00008110-000A1B2C3D4E5F6G", platform=Platform.IOS, model="iPhone 14 Pro (iPhone15,2)",
                      soc="A16", os="iOS 17.5", abi="arm64e", cores=6, build="21F79")
    fp16 = job("iphone", "fp16", "all", 1)
    run_id = "20261201-040000-iphone-cccc"
    store.create_run(run_id=run_id, device=info, plan=[fp16.to_dict()], config={"run": {"variants": ["fp16"]}},
                     bench_version="0.1.0")
    store.save_job(run_id, result(fp16, raw([2.1, 2.0, 2.2, 2.1, 2.0, 2.1, 2.3, 2.0, 2.1, 2.2, 2.1],
                                            engine="BenchRunner", engine_version="1.0", compile_ms=812.0,
                                            phys_footprint_after_load_mb=41.0, phys_footprint_peak_mb=55.2,
                                            sampled_phys_footprint_peak_mb=54.9,
                                            compute_plan={"neural_engine": 60, "cpu": 4}, accelerator_used="all",
                                            peak_rss_mb=None, peak_rss_after_init_mb=None),
                                  accuracy=accuracy(0.75, None)))


def main(out: Path) -> None:
    out.unlink(missing_ok=True)
    with Store(out) as store:
        host_run(store)
        phone_run(store)
        iphone_run(store)
    # a rollback journal, not WAL: reading the committed file then leaves no -wal / -shm beside it
    with sqlite3.connect(out) as db:
        db.execute("PRAGMA journal_mode=DELETE")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "store-v1.sqlite")
