"""Several models at once on one device: each in its own process, started together, for the same time.

`bench run --concurrent fp32,int8` plans, after every job alone, one job per variant of the group
(`.../t2/with-int8`). The group's tools are started at once (a barrier releases the threads that
launch them) and each runs for `concurrent_s` seconds after its warm-up. Each one's latency under
contention is then set against the same variant's job alone in the same run: the slowdown (median
under contention over median alone; means where the tool prints only a summary), its FPS together
and alone, and the group's total FPS. The wall time the tools shared is measured from the host (it
includes their start and loading), so a group whose tools barely overlapped says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from bench.devices.base import Device, ModelJob
from bench.errors import BenchError
from bench.plan import Job
from bench.results.device_records import Platform
from bench.results.records import Contention, JobResult, JobStatus, RawRun
from bench.results.stats import center_ms, summarize
from bench.run.builds import request_for
from bench.run.context import Measured, RunContext
from bench.run.thermal import pass_gate


def measure_together(context: RunContext, unit: list[Job], measured: Measured) -> list[JobResult]:
    """Run a group's jobs at the same time; each one's result says what the others did to it."""
    if context.info.platform is Platform.IOS:
        raise BenchError("an iPhone runs one BenchRunner at a time: models at the same time are measured on the "
                         "host and on Android phones")
    device = context.device
    requests = [request_for(job.job_id, context.builds.get((job.model, job.variant)), job.accelerator, job.threads,
                            context.settings, what=f"variant {job.variant}") for job in unit]
    _, before = pass_gate(device, context.gate)
    for request in requests:
        device.prepare(request)
    group = run_together(device, requests, context.config.run.concurrent_s)
    after = device.snapshot()
    variants = unit[0].together
    results = []
    for job, request, mine in zip(unit, requests, group, strict=True):
        stats, _ = summarize(mine.raw.latencies_ms, mine.raw.summary)  # contention is what it measures
        facts = contention_facts(job.variant, mine, group, variants, measured.alone(job.solo_id))
        results.append(JobResult(job_id=job.job_id, model=job.model, variant=job.label,
                                 model_sha256=request.model_sha256, accelerator=job.accelerator,
                                 threads=job.threads, status=JobStatus.OK, raw=mine.raw, latency_ms=stats,
                                 state_before=before, state_after=after, concurrent=facts))
    return results


@dataclass(frozen=True, slots=True)
class Together:
    """One tool's launch in a group: what it measured, and when it ran on the host's clock."""

    raw: RawRun
    started_s: float
    ended_s: float


def run_together(device: Device, jobs: Sequence[ModelJob], seconds: float) -> list[Together]:
    """Launch every job's tool at once for `seconds` of timed runs; raise the first error any of them raised."""
    barrier = threading.Barrier(len(jobs))
    origin = time.monotonic()

    def one(job: ModelJob) -> Together:
        timed = replace(job, settings=replace(job.settings, loop=job.settings.loop.for_seconds(seconds)))
        barrier.wait()
        started = time.monotonic() - origin
        raw = device.execute(timed).raw
        return Together(raw=raw, started_s=started, ended_s=time.monotonic() - origin)

    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="bench-together") as pool:
        futures = [pool.submit(one, job) for job in jobs]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        return [f.result() for f in futures]


def raw_center_ms(raw: RawRun) -> float | None:
    return center_ms(raw.latencies_ms, raw.summary.mean_ms if raw.summary else None)


def fps(raw: RawRun) -> float | None:
    """Timed runs per second of the timed phase."""
    runs = raw.timed_count
    if raw.timed_s:
        seconds = raw.timed_s
    else:  # back to back: the runs' own time
        mean = raw.summary.mean_ms if raw.summary else 0.0
        seconds = (sum(raw.latencies_ms) if raw.latencies_ms else runs * mean) / 1000
    return runs / seconds if seconds else None


def shared_share(group: Sequence[Together]) -> float:
    """The share of the group's wall time during which all of its tools were running."""
    start, end = max(t.started_s for t in group), min(t.ended_s for t in group)
    span = max(t.ended_s for t in group) - min(t.started_s for t in group)
    return max(0.0, end - start) / span if span > 0 else 0.0


def contention_facts(variant: str, mine: Together, group: Sequence[Together], variants: Sequence[str],
                     alone: JobResult | None) -> Contention:
    """What running together did to `variant`: against its job alone, and the group's total throughput."""
    solo = alone.raw if alone is not None and alone.raw is not None else None
    together_center, solo_center = raw_center_ms(mine.raw), raw_center_ms(solo) if solo else None
    return Contention(
        with_variants=tuple(v for v in variants if v != variant), solo_job=alone.job_id if alone else None,
        center_ms=together_center, solo_center_ms=solo_center,
        slowdown=together_center / solo_center if together_center and solo_center else None,
        fps=fps(mine.raw), solo_fps=fps(solo) if solo else None,
        group_fps=sum(f for t in group if (f := fps(t.raw)) is not None),
        shared_wall_share=shared_share(group),
        center="median of the runs" if mine.raw.latencies_ms else "the tool's mean",
    )
