"""Records survive a round trip through their dictionaries (and JSON)."""

from __future__ import annotations

import json

from bench.results.device_records import DeviceInfo, DeviceState, Platform
from bench.results.records import AccuracyResult, JobResult, JobStatus, RawRun
from bench.results.stats import latency_stats


def _result() -> JobResult:
    latencies = (10.0, 11.0, 10.5, 10.2)
    return JobResult(
        job_id="efficientnet_lite0.int8.local.xnnpack.t2", model="efficientnet_lite0", variant="int8",
        model_sha256="ab" * 32, accelerator="xnnpack", threads=2, status=JobStatus.OK,
        raw=RawRun(engine="litert-host", engine_version="2.3.0", init_ms=12.5, first_inference_ms=30.1,
                   warmup_ms=(30.1, 11.0), latencies_ms=latencies, peak_rss_after_init_mb=80.5, peak_rss_mb=95.0,
                   model_size_bytes=5_260_000, input_shape=(1, 224, 224, 3), accelerator_used="xnnpack",
                   raw_output='{"x": 1}'),
        latency_ms=latency_stats(latencies), warnings=("only 4 timed runs",),
        accuracy=AccuracyResult(top1=0.82, top5=0.95, images=2, subset={"rule": "first", "count": 2},
                                top1_agreement_with_fp32=0.5, predictions_top5=((1, 2, 3, 4, 5), (6, 7, 8, 9, 10))),
        state_before=DeviceState(captured_at="2026-11-26T10:00:00+00:00", temperatures_c={"cpu": 41.5},
                                 governor="schedutil", cpu_freq_khz={"cpu0": 1800000}, load_average_1m=0.3),
        state_after=None,
    )


def test_job_result_round_trips_through_json() -> None:
    result = _result()
    assert JobResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_failed_job_keeps_its_reason() -> None:
    failed = JobResult(job_id="x", model="m", variant="v", model_sha256="", accelerator="none", threads=1,
                       status=JobStatus.FAILED, error="model file missing")
    again = JobResult.from_dict(failed.to_dict())
    assert again.status is JobStatus.FAILED and again.error == "model file missing" and again.raw is None


def test_device_info_round_trips() -> None:
    info = DeviceInfo(id="host", platform=Platform.LOCAL, model="x86_64", cores=2, simulated=False)
    assert DeviceInfo.from_dict(info.to_dict()) == info
