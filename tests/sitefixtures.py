"""A result store with known runs for the HTML site tests: two devices, one of them hostile."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.results.device_records import DeviceInfo, DeviceState, Platform
from bench.results.records import AccuracyResult, JobResult, JobStatus, RawRun
from bench.results.stats import ToolSummary, instability_warnings, latency_stats, summary_stats
from bench.results.store import Store

HOSTILE = "<script>alert(1)</script>"
VARIANTS = {"fp32": (14.0, 224, 0.84, 18_560_000), "int8": (9.0, 224, 0.83, 5_260_000),
            "pruned50": (13.5, 224, 0.80, 18_560_000), "res160": (7.5, 160, 0.78, 18_560_000)}


def _job(device: str, variant: str, seed: int) -> JobResult:
    """On the host every run is kept; a phone's benchmark_model gives a summary only."""
    p50, size, top1, size_bytes = VARIANTS[variant]
    latencies = tuple(float(v) for v in np.random.default_rng(seed).normal(p50, 0.03 * p50, 60))
    phone = device != "local"
    summary = ToolSummary(count=60, mean_ms=float(np.mean(latencies)), std_ms=float(np.std(latencies)),
                          min_ms=min(latencies), max_ms=max(latencies), median_ms=float(np.median(latencies)))
    state = DeviceState(captured_at="2026-11-27T00:00:00+00:00", temperatures_c={"cpu": 41.0}, governor="performance",
                        load_average_1m=0.2)
    raw = RawRun(engine="litert-host/forked", engine_version="2.3.0", init_ms=20.0, first_inference_ms=2 * p50,
                 warmup_ms=() if phone else (2 * p50, p50), latencies_ms=() if phone else latencies,
                 summary=summary if phone else None, peak_rss_after_init_mb=60.0, peak_rss_mb=70.0,
                 model_size_bytes=size_bytes, input_shape=(1, size, size, 3), accelerator_used="xnnpack",
                 raw_output=f'INFO: Created delegate {HOSTILE}\n{{"runner_format": 1}}\n')
    accuracy = AccuracyResult(top1=top1, top5=top1 + 0.1, images=100, subset={"rule": "first", "count": 100})
    return JobResult(job_id=f"{device}/mobilenet/{variant}/xnnpack/t1", model="mobilenet", variant=variant,
                     model_sha256="ab" * 32, accelerator="xnnpack", threads=1, status=JobStatus.OK, raw=raw,
                     latency_ms=summary_stats(summary) if phone else latency_stats(latencies),
                     warnings=tuple(instability_warnings(latencies)),
                     accuracy=accuracy, state_before=state, state_after=state)


def make_store(path: Path) -> Store:
    """Two runs: the host with every variant and one failed job, and a phone with a hostile name."""
    store = Store(path)
    devices = [DeviceInfo(id="lab-host", platform=Platform.LOCAL, model="host (x86_64)", cores=2),
               DeviceInfo(id=f"serial{HOSTILE}", platform=Platform.ANDROID, model=HOSTILE, simulated=True)]
    for number, device in enumerate(devices):
        run_id = f"2026112{number}-000000-{device.platform.value}-abcd"
        plan = [{"model": "mobilenet", "variant": v} for v in VARIANTS]
        store.create_run(run_id=run_id, device=device, plan=plan, config={"dataset": {"imagenet": "/data"}},
                         bench_version="0.1.0")
        for seed, variant in enumerate(VARIANTS):
            store.save_job(run_id, _job(device.platform.value, variant, seed))
        if number == 0:
            store.save_job(run_id, JobResult(job_id="local/mobilenet/fp16/xnnpack/t1", model="mobilenet",
                                             variant="fp16", model_sha256="", accelerator="xnnpack", threads=1,
                                             status=JobStatus.FAILED, error="host runner failed: corrupt model",
                                             tool_output=f"ERROR: Could not open {HOSTILE}.tflite\n"))
    return store
