"""A sustained job: the model run for minutes, at a camera's rate or back to back, as one long job.

`benchmark_model` prints only a summary per launch, so a sustained job is a run of consecutive
windows, one launch of the tool each (`--min_secs = --max_secs = window`, `--run_frequency` at the
requested rate); the host runner (and the iPhone runner) also give every latency. Only the first
window warms up. While the windows run, a sampler thread reads the device's state (temperatures,
thermal status, CPU clocks) every `sample_every_s`. The analysis is bench.results.sustained.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from bench.config import RunConfig
from bench.devices.base import Device, ModelJob
from bench.engines.loop import LoopSettings
from bench.errors import BenchError
from bench.results.device_records import DeviceState
from bench.results.records import RawRun, SustainedResult, SustainedWindow
from bench.results.stats import ToolSummary
from bench.results.sustained import dropped_frames, per_minute, reference_s, throttle_onset

log = logging.getLogger(__name__)

MIN_WINDOW_S = 1.0  # a remainder shorter than this is not worth a launch of the tool


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedPlan:
    duration_s: float
    rate_hz: float = 0.0  # 0: back to back
    window_s: float = 10.0
    sample_every_s: float = 5.0


def sustained_plan(run: RunConfig) -> SustainedPlan | None:
    """The run's sustained settings, or None for ordinary jobs."""
    if not run.sustained_s:
        return None
    return SustainedPlan(duration_s=run.sustained_s, rate_hz=run.rate_hz, window_s=run.window_s,
                         sample_every_s=run.sample_every_s)


def measure_sustained(device: Device, job: ModelJob, plan: SustainedPlan) -> tuple[SustainedResult, RawRun]:
    """Run `job` for the plan's duration in windows; return what was found and the job's combined RawRun."""
    duration_s, rate_hz, window_s, sample_every_s = plan.duration_s, plan.rate_hz, plan.window_s, plan.sample_every_s
    windows: list[SustainedWindow] = []
    raws: list[RawRun] = []
    samples: list[tuple[float, DeviceState]] = []
    started = time.monotonic()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                samples.append((time.monotonic() - started, device.snapshot()))
            except BenchError as exc:  # a missed sample is a gap in the curve, not a failed job
                log.warning("%s: no state sample: %s", job.job_id, exc)
            stop.wait(sample_every_s)

    sampler = threading.Thread(target=sample, name="bench-sustained-sampler", daemon=True)
    sampler.start()
    try:
        while (left := duration_s - (time.monotonic() - started)) >= MIN_WINDOW_S or not windows:
            span = min(window_s, max(left, MIN_WINDOW_S))
            # only the first window warms up; each one's timed runs last the window, at the rate
            loop = LoopSettings(num_runs=1, min_secs=span, max_secs=span, warmup_min_secs=0.0, run_frequency_hz=rate_hz,
                                warmup_runs=job.settings.loop.warmup_runs if not windows else 0)
            raw = device.execute(replace(job, settings=replace(job.settings, loop=loop))).raw
            ended = time.monotonic() - started
            windows.append(_window(raw, span, ended))
            raws.append(raw)
    finally:
        stop.set()
        sampler.join(timeout=sample_every_s + 30)
    dropped, method = dropped_frames(windows, rate_hz)
    onset, evidence = throttle_onset(windows, samples, reference_s(duration_s))
    result = SustainedResult(duration_s=duration_s, rate_hz=rate_hz, window_s=window_s, windows=tuple(windows),
                             samples=tuple(samples), minutes=tuple(per_minute(windows, rate_hz)),
                             throttle_onset_s=onset, throttle_evidence=evidence, dropped_share=dropped,
                             dropped_method=method)
    return result, _combined(raws, windows)


def _window(raw: RawRun, span_s: float, ended_s: float) -> SustainedWindow:
    """One window from one launch. Its timed runs end as the tool exits: they began `timed_s` before."""
    summary = raw.summary
    count = raw.timed_count
    mean = float(np.mean(raw.latencies_ms)) if raw.latencies_ms else (summary.mean_ms if summary else None)
    # the tool's own wall time where it gives it; else the runs' time, never less than the window asked for
    timed = raw.timed_s if raw.timed_s is not None else max(span_s, count * (mean or 0.0) / 1000.0)
    return SustainedWindow(start_s=max(0.0, ended_s - timed), timed_s=timed, count=count,
                           latencies_ms=raw.latencies_ms, run_starts_s=raw.run_starts_s,
                           mean_ms=None if raw.latencies_ms else mean,
                           std_ms=None if raw.latencies_ms or summary is None else summary.std_ms)


def _combined(raws: list[RawRun], windows: list[SustainedWindow]) -> RawRun:
    """The job's RawRun: the first launch's init and first inference, every latency (or the windows' summaries
    pooled), and the first and last launches' output."""
    first, last = raws[0], raws[-1]
    output = first.raw_output + ("" if last is first else f"\n--- last of {len(raws)} windows ---\n" +
                                 last.raw_output)
    peaks = [r.peak_rss_mb for r in raws if r.peak_rss_mb is not None]
    common = {"peak_rss_mb": max(peaks) if peaks else None, "raw_output": output, "run_starts_s": (),
              "timed_s": sum(w.timed_s for w in windows)}
    if all(r.latencies_ms for r in raws):
        return replace(first, latencies_ms=tuple(v for r in raws for v in r.latencies_ms), **common)  # type: ignore[arg-type]
    counted = [(w.count, w.mean_ms or 0.0, w.std_ms or 0.0) for w in windows if w.count]
    runs = sum(c for c, _, _ in counted)
    mean = sum(c * m for c, m, _ in counted) / runs
    # pooled: the spread within windows plus the spread of the windows' means
    variance = sum(c * (s * s + (m - mean) ** 2) for c, m, s in counted) / runs
    summaries = [r.summary for r in raws if r.summary is not None]
    lows = [s.min_ms for s in summaries if s.min_ms is not None]
    highs = [s.max_ms for s in summaries if s.max_ms is not None]
    summary = ToolSummary(count=runs, mean_ms=mean, std_ms=float(np.sqrt(variance)), min_ms=min(lows, default=mean),
                          max_ms=max(highs, default=mean))
    return replace(first, latencies_ms=(), summary=summary, **common)  # type: ignore[arg-type]
