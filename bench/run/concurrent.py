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
from typing import Any

from bench.devices.base import Device, ModelJob
from bench.results.records import JobResult, RawRun
from bench.results.stats import center_ms


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
        timed = replace(job, settings=replace(job.settings, num_runs=1, min_secs=seconds, max_secs=seconds))
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
    return center_ms(raw.latencies_ms, (raw.summary_ms or {}).get("avg"))


def fps(raw: RawRun) -> float | None:
    """Timed runs per second of the timed phase."""
    runs = len(raw.latencies_ms) or int((raw.summary_ms or {}).get("count", 0))
    if raw.timed_s:
        seconds = raw.timed_s
    else:  # back to back: the runs' own time
        seconds = (sum(raw.latencies_ms) if raw.latencies_ms else runs * (raw.summary_ms or {}).get("avg", 0.0)) / 1000
    return runs / seconds if seconds else None


def shared_share(group: Sequence[Together]) -> float:
    """The share of the group's wall time during which all of its tools were running."""
    start, end = max(t.started_s for t in group), min(t.ended_s for t in group)
    span = max(t.ended_s for t in group) - min(t.started_s for t in group)
    return max(0.0, end - start) / span if span > 0 else 0.0


def contention_facts(variant: str, mine: Together, group: Sequence[Together], variants: Sequence[str],
                     alone: JobResult | None) -> dict[str, Any]:
    """What running together did to `variant`: against its job alone, and the group's total throughput."""
    solo = alone.raw if alone is not None and alone.raw is not None else None
    together_center, solo_center = raw_center_ms(mine.raw), raw_center_ms(solo) if solo else None
    return {
        "with": [v for v in variants if v != variant], "solo_job": alone.job_id if alone else None,
        "center_ms": together_center, "solo_center_ms": solo_center,
        "slowdown": together_center / solo_center if together_center and solo_center else None,
        "fps": fps(mine.raw), "solo_fps": fps(solo) if solo else None,
        "group_fps": sum(f for t in group if (f := fps(t.raw)) is not None),
        "shared_wall_share": shared_share(group),
        "center": "median of the runs" if mine.raw.latencies_ms else "the tool's mean",
    }
