"""A device's history as series over runs, with regressions and what changed, for its page on the site.

Pure: stored runs in, series out. A series is bench.results.regress.SeriesKey; its points are the
runs' central latencies (median of the runs, or the tool's mean); a point is a regression when the
same verdict `bench regress` gives marks it against the series' earlier points (the nightly test,
or a step in the series' level the nightly test missed). A series with steps carries its levels. Where the model
file or the tool changes, the job starts a new series; where the device's OS build changes inside a
series, the point carries that change.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.results.job_ids import without_device
from bench.results.records import JobResult, JobStatus
from bench.results.regress import (
    STEP_SEGMENT,
    latency_verdict,
    night_latency,
    noise_threshold,
    series_key,
    step_verdict,
    steps,
)
from bench.results.store import RunRecord

DEFAULT_WINDOW = 7


@dataclass(slots=True)
class Point:
    position: int  # the run's place in the device's history, oldest first
    run_id: str
    created_at: str
    center_ms: float
    regression: str | None = None  # the verdict's evidence, when this run regressed
    change: str | None = None  # what changed on the device since the previous point (OS build)


@dataclass(slots=True)
class Series:
    label: str
    points: list[Point] = field(default_factory=list)
    levels: list[tuple[int, int, float]] = field(default_factory=list)  # (first, last position, median ms)


def device_series(runs: Sequence[tuple[RunRecord, Sequence[JobResult]]],
                  window: int = DEFAULT_WINDOW) -> list[Series]:
    """The series of one device's runs (given oldest first)."""
    found: dict[object, Series] = {}
    history: dict[object, list] = {}  # type: ignore[type-arg]
    previous_build: dict[object, str] = {}
    for position, (record, results) in enumerate(runs):
        for result in results:
            if result.status is not JobStatus.OK or result.raw is None:
                continue
            key = series_key(record.device, result)
            night = night_latency(record.run_id, result)
            if night.center_ms is None:
                continue
            series = found.setdefault(key, Series(label=f"{without_device(result.job_id)} "
                                                        f"(model {key.model_sha256[:8]})"))
            earlier = history.setdefault(key, [])
            verdict = latency_verdict(night, earlier[-window:]) if earlier else None
            step = step_verdict([*earlier, night], window)
            if step is not None and step.regression and not (verdict and verdict.regression):
                verdict = step
            build = f"{record.device.os} {record.device.build}"
            change = None
            if key in previous_build and previous_build[key] != build:
                change = f"OS {previous_build[key]} -> {build}"
            previous_build[key] = build
            series.points.append(Point(position=position, run_id=record.run_id, created_at=record.created_at,
                                       center_ms=night.center_ms,
                                       regression=verdict.evidence if verdict and verdict.regression else None,
                                       change=change))
            earlier.append(night)
    for series_id, series in found.items():
        series.levels = _levels(series.points, history[series_id])
    return [s for s in found.values() if s.points]


def _levels(points: list[Point], nights: list) -> list[tuple[int, int, float]]:  # type: ignore[type-arg]
    """The series' levels between its steps, once it is long enough to have any."""
    if len(points) < 2 * STEP_SEGMENT:
        return []
    centers = [p.center_ms for p in points]
    bounds = [0, *steps(centers, noise_threshold(nights)), len(points)]
    if len(bounds) == 2:
        return []
    return [(points[a].position, points[b - 1].position, float(np.median(centers[a:b])))
            for a, b in itertools.pairwise(bounds)]
