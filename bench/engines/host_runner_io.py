"""Read the host runner's JSON report into the result record every backend returns."""

from __future__ import annotations

from typing import Any

from bench.errors import ResultFormatError
from bench.results.records import RawRun


def raw_run_from_report(report: dict[str, Any], raw_output: str) -> RawRun:
    """Return the RawRun of a host runner report; raise ResultFormatError if it is not one."""
    try:
        shapes = report["input_shapes"]
        return RawRun(
            engine=report["engine"], engine_version=report["engine_version"], init_ms=float(report["init_ms"]),
            first_inference_ms=float(report["first_inference_ms"]),
            warmup_ms=tuple(float(v) for v in report["warmup_ms"]),
            latencies_ms=tuple(float(v) for v in report["latencies_ms"]),
            peak_rss_after_init_mb=float(report["peak_rss_after_init_mb"]),
            peak_rss_mb=float(report["peak_rss_mb"]), model_size_bytes=int(report["model_size_bytes"]),
            input_shape=tuple(int(d) for d in shapes[0]) if shapes else (), accelerator_used=report["accelerator"],
            raw_output=raw_output, run_starts_s=tuple(float(v) for v in report.get("run_starts_s") or ()),
            timed_s=float(report["timed_s"]) if report.get("timed_s") is not None else None,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ResultFormatError(f"host runner report lacks {exc}; is bench installed twice in different versions?")\
            from exc
