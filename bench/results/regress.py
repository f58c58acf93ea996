"""Regression detection across nights. Pure: results in, verdicts out.

A series is what may be compared: the same device, model file (sha256), tool (engine and its
version or sha256), variant, accelerator, threads and input shape. A night whose series has no
history is "new series"; one whose device or tool changed starts a new series and is reported as
"not comparable", never as a regression.

Latency, per series: the night against a baseline window of earlier nights.
- With per-run latencies (the host, iPhones): a one-sided Mann-Whitney U test on the raw samples
  (night slower than the pooled baseline).
- With only the tool's summary (benchmark_model prints count, mean and std): Welch's t-test from
  those statistics.
A regression needs both significance (p below ALPHA) and a slowdown of the median (or mean) larger
than the series' own night-to-night noise: NOISE_FACTOR x the median absolute deviation of the
baseline nights' relative medians, and never less than FLOOR (5%). Steps in a long series are found
on the nightly medians by binary segmentation with the same threshold.

Accuracy: top-1 on the same images compared with McNemar's exact test on the images whose
correctness changed (both nights keep per-image predictions); a drop must be significant.
Memory: peak growth beyond MEMORY_GROWTH (10%) of the baseline's median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.results.device_records import DeviceInfo
from bench.results.records import JobResult
from bench.results.stats import center_ms

ALPHA = 0.01
FLOOR = 0.05
NOISE_FACTOR = 3.0
MIN_BASELINE_NIGHTS = 2
MEMORY_GROWTH = 0.10


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesKey:
    device: str
    model_sha256: str
    tool: str
    variant: str
    accelerator: str
    threads: int
    input_shape: tuple[int, ...]

    def label(self) -> str:
        shape = "x".join(map(str, self.input_shape))
        return (f"{self.device}/{self.variant}/{self.accelerator}/t{self.threads}/{shape} "
                f"(model {self.model_sha256[:8]}, {self.tool})")


@dataclass(frozen=True, slots=True, kw_only=True)
class NightLatency:
    """One night of one series: the raw timed runs, or the tool's summary (count, mean, std) when that is all."""

    run_id: str
    latencies_ms: tuple[float, ...] = ()
    count: int = 0
    mean_ms: float | None = None
    std_ms: float | None = None

    @property
    def center_ms(self) -> float | None:
        return center_ms(self.latencies_ms, self.mean_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    kind: str  # latency | step | accuracy | memory
    status: str  # regression | improvement | unchanged | step | insufficient history
    change: float | None = None  # relative (latency, memory) or in points (accuracy)
    p_value: float | None = None
    threshold: float | None = None
    test: str | None = None
    evidence: str = ""

    @property
    def regression(self) -> bool:
        return self.status == "regression"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "change": self.change, "p_value": self.p_value,
                "threshold": self.threshold, "test": self.test, "evidence": self.evidence}


def series_key(device: DeviceInfo, result: JobResult) -> SeriesKey:
    raw = result.raw
    assert raw is not None
    return SeriesKey(device=device.id, model_sha256=result.model_sha256, tool=f"{raw.engine} {raw.engine_version}",
                     variant=result.variant, accelerator=result.accelerator, threads=result.threads,
                     input_shape=tuple(raw.input_shape))


def night_latency(run_id: str, result: JobResult) -> NightLatency:
    raw = result.raw
    assert raw is not None
    if raw.latencies_ms:
        return NightLatency(run_id=run_id, latencies_ms=tuple(raw.latencies_ms))
    summary = raw.summary
    if summary is None:
        return NightLatency(run_id=run_id, count=0, mean_ms=None, std_ms=None)
    return NightLatency(run_id=run_id, count=summary.count, mean_ms=summary.mean_ms, std_ms=summary.std_ms)


def noise_threshold(baseline: Sequence[NightLatency]) -> float:
    """How much the series moves night to night, as a fraction of its level; never below FLOOR."""
    centers = np.array([n.center_ms for n in baseline if n.center_ms], dtype=float)
    if len(centers) < 2:
        return FLOOR
    relative = centers / np.median(centers) - 1.0
    mad = float(np.median(np.abs(relative - np.median(relative))))
    return max(FLOOR, NOISE_FACTOR * 1.4826 * mad)  # 1.4826 x MAD estimates a standard deviation


def latency_verdict(night: NightLatency, baseline: Sequence[NightLatency]) -> Verdict:
    """Is this night slower than the baseline nights, beyond chance and beyond the series' noise?"""
    from scipy import stats

    usable = [n for n in baseline if n.center_ms]
    if len(usable) < MIN_BASELINE_NIGHTS or night.center_ms is None:
        return Verdict(kind="latency", status="insufficient history",
                       evidence=f"{len(usable)} earlier night(s); {MIN_BASELINE_NIGHTS} are needed")
    threshold = noise_threshold(usable)
    if night.latencies_ms and all(n.latencies_ms for n in usable):
        pooled = np.concatenate([n.latencies_ms for n in usable])
        reference = float(np.median(pooled))
        slower = stats.mannwhitneyu(night.latencies_ms, pooled, alternative="greater").pvalue
        faster = stats.mannwhitneyu(night.latencies_ms, pooled, alternative="less").pvalue
        test = "Mann-Whitney U on the raw runs"
        sizes = f"{len(night.latencies_ms)} runs vs {len(pooled)} from {len(usable)} nights"
    else:
        summaries = [n for n in usable if n.mean_ms is not None and n.std_ms is not None and n.count > 1]
        if night.mean_ms is None or night.std_ms is None or night.count < 2 or not summaries:
            return Verdict(kind="latency", status="insufficient history", evidence="no usable statistics")
        count = sum(n.count for n in summaries)
        mean = sum(n.count * (n.mean_ms or 0.0) for n in summaries) / count
        # pooled variance: within-night spread plus the spread of the nights' means
        var = sum(n.count * ((n.std_ms or 0.0) ** 2 + ((n.mean_ms or 0.0) - mean) ** 2) for n in summaries) / count
        reference = mean
        slower = _welch(night, mean, float(np.sqrt(var)), count, "greater")
        faster = _welch(night, mean, float(np.sqrt(var)), count, "less")
        test = "Welch's t-test from the tool's summaries"
        sizes = f"{night.count} runs vs {count} from {len(summaries)} nights"
    change = night.center_ms / reference - 1.0
    evidence = (f"{night.center_ms:.3f} ms vs {reference:.3f} ms ({change:+.1%}; noise threshold {threshold:.1%}); "
                f"{test}, {sizes}")
    if slower < ALPHA and change > threshold:
        status, p = "regression", slower
    elif faster < ALPHA and change < -threshold:
        status, p = "improvement", faster
    else:
        status, p = "unchanged", min(slower, faster)
    return Verdict(kind="latency", status=status, change=change, p_value=float(p), threshold=threshold, test=test,
                   evidence=evidence)


def _welch(night: NightLatency, mean: float, std: float, count: int, alternative: str) -> float:
    from scipy import stats

    assert night.mean_ms is not None and night.std_ms is not None
    result = stats.ttest_ind_from_stats(night.mean_ms, night.std_ms, night.count, mean, std, count, equal_var=False,
                                        alternative=alternative)
    return float(result.pvalue)


def steps(centers: Sequence[float], threshold: float = FLOOR, min_segment: int = 3) -> list[int]:
    """Indices where a long series of nightly medians shifts level by more than `threshold` (binary segmentation)."""
    values = np.asarray(centers, dtype=float)
    found: list[int] = []

    def split(start: int, end: int) -> None:
        if end - start < 2 * min_segment:
            return
        logs = np.log(values[start:end])
        best, where = 0.0, -1
        for i in range(min_segment, len(logs) - min_segment + 1):  # the split that best separates two levels
            score = i * (len(logs) - i) / len(logs) * (logs[i:].mean() - logs[:i].mean()) ** 2
            if score > best:
                best, where = score, start + i
        if where < 0:  # a flat segment
            return
        left, right = np.median(values[start:where]), np.median(values[where:end])
        if abs(right / left - 1.0) > threshold:
            found.append(where)
            split(start, where)
            split(where, end)

    split(0, len(values))
    return sorted(found)


STEP_SEGMENT = 3  # nights at each level before a step between them is believed


def step_verdict(series: Sequence[NightLatency], window: int) -> Verdict | None:
    """The latest level shift of a long series (oldest night first, tonight last); None when its level held.

    A step confirmed tonight (its third night at the new level) is a regression when it is a slowdown
    that the nightly test missed on the step's first night (a creep, or a shift within the noise of
    a short window); an older step, or one already caught, is reported as a step.
    """
    usable = [n for n in series if n.center_ms]
    if len(usable) < 2 * STEP_SEGMENT:
        return None
    centers = [float(n.center_ms or 0.0) for n in usable]
    threshold = noise_threshold(usable[:-1])
    found = steps(centers, threshold, STEP_SEGMENT)
    if not found:
        return None
    at = found[-1]
    start = found[-2] if len(found) > 1 else 0
    before, after = float(np.median(centers[start:at])), float(np.median(centers[at:]))
    change = after / before - 1.0
    ago = len(centers) - 1 - at
    evidence = (f"the level moved from {before:.3f} ms to {after:.3f} ms ({change:+.1%}; threshold {threshold:.1%}) "
                f"at run {usable[at].run_id}, {ago} night(s) before this one; binary segmentation of "
                f"{len(centers)} nightly medians")
    caught = latency_verdict(usable[at], usable[max(0, at - window):at]).regression
    confirmed_tonight = at == len(centers) - STEP_SEGMENT
    status = "regression" if change > 0 and confirmed_tonight and not caught else "step"
    return Verdict(kind="step", status=status, change=change, threshold=threshold,
                   test="binary segmentation of nightly medians", evidence=evidence)


def accuracy_verdict(night_correct: Sequence[bool], baseline_correct: Sequence[bool]) -> Verdict:
    """Top-1 correctness of the same images, in the same order, on the night and on the baseline."""
    from scipy import stats

    night, base = np.asarray(night_correct, bool), np.asarray(baseline_correct, bool)
    if len(night) != len(base) or not len(night):
        return Verdict(kind="accuracy", status="insufficient history", evidence="not the same images")
    lost = int(np.sum(base & ~night))
    gained = int(np.sum(~base & night))
    change = 100.0 * (night.mean() - base.mean())
    changed = lost + gained
    p = float(stats.binomtest(lost, changed, 0.5, alternative="greater").pvalue) if changed else 1.0
    evidence = (f"top-1 {100 * night.mean():.2f}% vs {100 * base.mean():.2f}% on the same {len(night)} images: "
                f"{lost} lost, {gained} gained (McNemar exact)")
    status = "regression" if p < ALPHA and lost > gained else "unchanged"
    return Verdict(kind="accuracy", status=status, change=change, p_value=p, test="McNemar exact", evidence=evidence)


def memory_verdict(night_peak_mb: float, baseline_peaks_mb: Sequence[float]) -> Verdict:
    if len(baseline_peaks_mb) < MIN_BASELINE_NIGHTS:
        return Verdict(kind="memory", status="insufficient history")
    reference = float(np.median(baseline_peaks_mb))
    change = night_peak_mb / reference - 1.0
    status = "regression" if change > MEMORY_GROWTH else "unchanged"
    return Verdict(kind="memory", status=status, change=change, threshold=MEMORY_GROWTH,
                   evidence=f"peak {night_peak_mb:.1f} MB vs {reference:.1f} MB ({change:+.1%})")
