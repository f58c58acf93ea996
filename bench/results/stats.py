"""Latency statistics and instability warnings. Pure: no I/O, no device, no clock.

Percentiles use linear interpolation between order statistics (numpy's default), the median's 95%
confidence interval is a seeded percentile bootstrap, and FPS is 1000 / mean steady-state latency.
Warnings follow pyperf's spirit: each says what was seen and why it matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# pyperf's threshold: past a standard deviation of 10% of the mean, a run's spread says it was disturbed.
# (5% flags nearly every run on a shared or virtualised host, whose run-to-run medians differ by ~10%.)
CV_LIMIT = 0.10
DRIFT_LIMIT = 0.05  # relative gap between first-half and second-half medians
MIN_RUNS = 10
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20240607


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyStats:
    """Steady-state latency. From a per-run list everything is computed; from a tool's summary
    (`from_summary`), only what it printed: p50 is its median when it gives one, p90/p99 and the
    confidence interval are None."""

    count: int
    mean: float
    std: float
    min: float
    p50: float | None
    p90: float | None
    p99: float | None
    max: float
    cv: float
    ci95_p50: tuple[float, float] | None
    fps: float
    from_summary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "std": self.std, "min": self.min, "p50": self.p50,
                "p90": self.p90, "p99": self.p99, "max": self.max, "cv": self.cv,
                "ci95_p50": list(self.ci95_p50) if self.ci95_p50 else None, "fps": self.fps,
                "from_summary": self.from_summary}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        ci = data.get("ci95_p50")
        return cls(count=int(data["count"]), mean=data["mean"], std=data["std"], min=data["min"], p50=data["p50"],
                   p90=data["p90"], p99=data["p99"], max=data["max"], cv=data["cv"],
                   ci95_p50=(float(ci[0]), float(ci[1])) if ci else None, fps=data["fps"],
                   from_summary=bool(data.get("from_summary", False)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSummary:
    """A tool's own statistics of its timed runs, for tools that print no per-run list (benchmark_model:
    `count=50 first=9100 curr=4790 min=4610 max=5420 avg=4812 std=151 p5=... median=... p95=...`, in us).
    Only what it printed is set."""

    count: int
    mean_ms: float
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    first_ms: float | None = None
    p5_ms: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None
    warmup_count: int | None = None  # the warm-up runs' statistics, printed apart
    warmup_mean_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The tool's own names, as stored and exported (`summary_ms`): only what it printed."""
        return {key: getattr(self, name) for key, name in _STORED_KEYS.items() if getattr(self, name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolSummary:
        values = {name: data[key] for key, name in _STORED_KEYS.items() if data.get(key) is not None}
        warmup = values.pop("warmup_count", None)
        return cls(**values | {"count": int(values["count"]), "mean_ms": float(values["mean_ms"]),
                               "warmup_count": int(warmup) if warmup is not None else None})


# stored key -> field: the tool's names (`avg=`, `std=`, ... in ms), as results have always been stored
_STORED_KEYS = {"count": "count", "avg": "mean_ms", "std": "std_ms", "min": "min_ms", "max": "max_ms",
                "first": "first_ms", "p5": "p5_ms", "median": "median_ms", "p95": "p95_ms",
                "warmup_count": "warmup_count", "warmup_avg": "warmup_mean_ms"}


def bootstrap_median_ci(values: Sequence[float], samples: int = BOOTSTRAP_SAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Return the 2.5th and 97.5th percentiles of the medians of `samples` resamples."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    medians = np.median(data[rng.integers(0, len(data), size=(samples, len(data)))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


def latency_stats(latencies_ms: Sequence[float]) -> LatencyStats:
    """Summarise steady-state per-iteration latencies (ms)."""
    data = np.asarray(latencies_ms, dtype=np.float64)
    if len(data) == 0:
        raise ValueError("no latencies to summarise")
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if len(data) > 1 else 0.0
    p50, p90, p99 = (float(v) for v in np.percentile(data, [50, 90, 99]))
    return LatencyStats(
        count=len(data), mean=mean, std=std, min=float(data.min()), p50=p50, p90=p90, p99=p99,
        max=float(data.max()), cv=std / mean if mean > 0 else 0.0, ci95_p50=bootstrap_median_ci(latencies_ms),
        fps=1000.0 / mean if mean > 0 else 0.0,
    )


def _count_and_spread_warnings(count: int, cv: float | None) -> list[str]:
    """The warnings a run and a tool's summary share: too few runs, too much spread (None: unknown)."""
    warnings = []
    if count < MIN_RUNS:
        warnings.append(f"only {count} timed runs (fewer than {MIN_RUNS}): percentiles and spread are "
                        "unreliable; raise --num-runs or --min-secs")
    if cv is not None and cv > CV_LIMIT:
        warnings.append(f"coefficient of variation {100 * cv:.1f}% is above {100 * CV_LIMIT:.0f}%: the device was "
                        "busy or its clocks moved; close other apps, let it cool, or pin to big cores")
    return warnings


def instability_warnings(latencies_ms: Sequence[float]) -> list[str]:
    """Return why these latencies should not be trusted as they are; empty when they look stable."""
    data = np.asarray(latencies_ms, dtype=np.float64)
    cv = None  # one run has no spread
    if len(data) >= 2:
        cv = float(data.std(ddof=1) / data.mean()) if data.mean() > 0 else 0.0
    warnings = _count_and_spread_warnings(len(data), cv)
    if len(data) >= 4:
        half = len(data) // 2
        first, second = float(np.median(data[:half])), float(np.median(data[half:]))
        gap = abs(second - first) / min(first, second) if min(first, second) > 0 else 0.0
        if gap > DRIFT_LIMIT:
            trend = "slower" if second > first else "faster"
            warnings.append(f"second half median {second:.3g} ms is {100 * gap:.1f}% {trend} than the first half's "
                            f"{first:.3g} ms: drift or thermal throttling during the run")
    return warnings


def summary_stats(summary: ToolSummary) -> LatencyStats:
    """LatencyStats from a tool's printed summary (count, mean, std, min, max, maybe median)."""
    mean = summary.mean_ms
    std = summary.std_ms or 0.0
    return LatencyStats(
        count=summary.count, mean=mean, std=std, min=summary.min_ms if summary.min_ms is not None else mean,
        p50=summary.median_ms, p90=None, p99=None, max=summary.max_ms if summary.max_ms is not None else mean,
        cv=std / mean if mean > 0 else 0.0, ci95_p50=None, fps=1000.0 / mean if mean > 0 else 0.0,
        from_summary=True,
    )


def summary_warnings(summary: ToolSummary) -> list[str]:
    """Instability warnings a summary allows: too few runs and spread (drift needs the runs themselves)."""
    stats = summary_stats(summary)
    return _count_and_spread_warnings(stats.count, stats.cv)


def center_ms(latencies_ms: Sequence[float], mean_ms: float | None) -> float | None:
    """A run's central latency: the median of its runs, or the tool's mean where it printed only a summary."""
    return float(np.median(latencies_ms)) if len(latencies_ms) else mean_ms


def summarize(latencies_ms: Sequence[float], summary: ToolSummary | None) -> tuple[LatencyStats, list[str]]:
    """Statistics and warnings from every run when the tool gave them, else from its summary."""
    if latencies_ms:
        return latency_stats(latencies_ms), instability_warnings(latencies_ms)
    if summary:
        return summary_stats(summary), summary_warnings(summary)
    raise ValueError("the run has neither per-run latencies nor a summary")
