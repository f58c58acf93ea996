"""The report's plots, drawn with matplotlib as SVG text (no pyplot state, no display needed).

The SVG is deterministic for the same data (fixed hash salt, no date), so regenerating a site from
the same store gives the same bytes. Labels come from variant names: matplotlib escapes them as XML,
and the pages load the files through <img>, where no script runs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from bench.reports.table import Row
from bench.results.records import JobResult, JobStatus
from bench.results.sustained import window_center

_STYLE: dict[Any, Any] = {"svg.hashsalt": "bench", "svg.fonttype": "none", "font.size": 9.0}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height))


def _ok(results: Sequence[JobResult]) -> list[JobResult]:
    return [r for r in results if r.status is JobStatus.OK and r.raw is not None and r.latency_ms is not None]


def _labels(items: Sequence[JobResult | Row]) -> list[str]:
    """Variant names, with accelerator and threads when the items differ in them."""
    detailed = len({(r.accelerator, r.threads) for r in items}) > 1
    return [f"{r.variant} {r.accelerator} t{r.threads}" if detailed else r.variant for r in items]


def latency_distribution(results: Sequence[JobResult]) -> str | None:
    """Box plot of every timed iteration per job (whiskers 5th-95th percentile, outliers as dots)."""
    jobs = [r for r in _ok(results) if r.raw and r.raw.latencies_ms]
    if not jobs:
        return None
    figure = _figure(7.0, 0.45 * len(jobs) + 1.2)
    axes = figure.add_subplot()
    data = [list(r.raw.latencies_ms) for r in jobs if r.raw]
    axes.boxplot(data, vert=False, whis=(5, 95), flierprops={"markersize": 2})
    axes.set_yticks(range(1, len(jobs) + 1), _labels(jobs))
    axes.invert_yaxis()
    label = "latency per inference (ms); box: p25-p75, line: p50, whiskers: p5-p95"
    # One stray 100 ms run would squash every box: cut the axis past the slowest p99 and say so.
    limit = 1.15 * max(float(np.percentile(d, 99)) for d in data)
    beyond = sum(v > limit for d in data for v in d)
    if beyond:
        axes.set_xlim(right=limit)
        runs = f"{beyond} run{'s' if beyond != 1 else ''}"
        label += f"\n{runs} above {limit:.1f} ms not drawn (each job's page has them all)"
    axes.set_xlabel(label)
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def latency_summary(results: Sequence[JobResult]) -> str | None:
    """For tools that print only a summary (benchmark_model on a phone): min-max, mean ± std, median."""
    jobs = [r for r in results if r.status is JobStatus.OK and r.raw is not None and not r.raw.latencies_ms
            and r.latency_ms is not None]
    if not jobs:
        return None
    figure = _figure(7.0, 0.45 * len(jobs) + 1.2)
    axes = figure.add_subplot()
    for y, job in enumerate(jobs):
        lat = job.latency_ms
        assert lat is not None
        axes.hlines(y, lat.min, lat.max, color="grey", linewidth=1)
        axes.errorbar(lat.mean, y, xerr=lat.std, fmt="o", color="tab:blue", capsize=3,
                      label="mean ± std" if y == 0 else None)
        if lat.p50 is not None:
            axes.plot(lat.p50, y, "|", color="black", markersize=12, label="median" if y == 0 else None)
    axes.set_yticks(range(len(jobs)), _labels(jobs))
    axes.invert_yaxis()
    axes.set_xlabel("latency per inference (ms), as the tool summarised it; grey: min-max")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def accuracy_vs_latency(rows: Sequence[Row]) -> str | None:
    """Top-1 against p50 latency, with the Pareto front (no other variant is faster and more accurate)."""
    points = [r for r in rows if r.p50_ms is not None and r.top1 is not None]
    if not points:
        return None
    figure = _figure(7.0, 4.2)
    axes = figure.add_subplot()
    for r, label in zip(points, _labels(points), strict=True):
        assert r.p50_ms is not None and r.top1 is not None
        axes.scatter(r.p50_ms, 100 * r.top1, color="tab:orange" if r.pareto else "tab:blue", zorder=3)
        axes.annotate(label, (r.p50_ms, 100 * r.top1), textcoords="offset points", xytext=(4, 4))
    front = sorted((r.p50_ms, 100 * r.top1) for r in points if r.pareto and r.p50_ms is not None and r.top1 is not None)
    if len(front) > 1:
        axes.step([x for x, _ in front], [y for _, y in front], where="post", color="tab:orange",
                  label="Pareto front", zorder=2)
        axes.legend(loc="lower right")
    axes.set_xlabel("latency p50 (ms)")
    axes.set_ylabel("top-1 (%)")
    axes.grid(alpha=0.3)
    return _svg(figure)


def memory(results: Sequence[JobResult]) -> str | None:
    """Peak resident memory per job: after init, and over the whole run."""
    jobs = [r for r in _ok(results) if r.raw and r.raw.peak_rss_mb is not None]
    if not jobs:
        return None
    figure = _figure(7.0, 0.45 * len(jobs) + 1.2)
    axes = figure.add_subplot()
    positions = list(range(len(jobs)))
    after_init = [r.raw.peak_rss_after_init_mb or 0.0 for r in jobs if r.raw]
    overall = [r.raw.peak_rss_mb or 0.0 for r in jobs if r.raw]
    axes.barh([p + 0.2 for p in positions], after_init, height=0.4, label="peak after init")
    axes.barh([p - 0.2 for p in positions], overall, height=0.4, label="peak overall")
    axes.set_yticks(positions, _labels(jobs))
    axes.invert_yaxis()
    axes.set_xlabel("peak resident set, VmHWM (MB)")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def _float_resolution(variant: str) -> bool:
    """fp32 and the variants that only change its input size (resN, dynamic@N) share one float model."""
    return variant == "fp32" or variant.startswith(("res", "dynamic"))


def resolution(results: Sequence[JobResult], rows: Sequence[Row]) -> str | None:
    """Latency p50 and top-1 against input resolution, for the float model at its sizes."""
    top1 = {(r.variant, r.accelerator, r.threads): r.top1 for r in rows}
    jobs = [r for r in _ok(results) if _float_resolution(r.variant) and r.raw and r.latency_ms
            and r.latency_ms.p50 is not None and len(r.raw.input_shape) == 4]
    points = sorted(
        (r.raw.input_shape[1], r.latency_ms.p50, top1.get((r.variant, r.accelerator, r.threads)), label)
        for r, label in zip(jobs, _labels(jobs), strict=True)
        if r.raw and r.latency_ms and r.latency_ms.p50 is not None
    )
    if len({p[0] for p in points}) < 2:
        return None
    figure = _figure(7.0, 3.6)
    latency_axes = figure.add_subplot()
    latency_axes.plot([p[0] for p in points], [p[1] for p in points], "o-", color="tab:blue", label="p50 latency")
    for size, p50, _, label in points:
        latency_axes.annotate(label, (size, p50), textcoords="offset points", xytext=(4, -10))
    latency_axes.set_xlabel("input resolution (px, square)")
    latency_axes.set_ylabel("latency p50 (ms)", color="tab:blue")
    measured = [(size, 100 * t) for size, _, t, _ in points if t is not None]
    if measured:
        accuracy_axes = latency_axes.twinx()
        accuracy_axes.plot([m[0] for m in measured], [m[1] for m in measured], "s--", color="tab:green",
                           label="top-1")
        accuracy_axes.set_ylabel("top-1 (%)", color="tab:green")
    latency_axes.grid(alpha=0.3)
    return _svg(figure)


def latency_histogram(result: JobResult) -> str | None:
    """Histogram of one job's timed iterations, with p50 and p90 marked."""
    if result.raw is None or not result.raw.latencies_ms or result.latency_ms is None:
        return None
    figure = _figure(7.0, 3.0)
    axes = figure.add_subplot()
    axes.hist(result.raw.latencies_ms, bins=min(50, max(10, len(result.raw.latencies_ms) // 4)), color="tab:blue")
    for value, name, style in ((result.latency_ms.p50, "p50", "-"), (result.latency_ms.p90, "p90", "--")):
        if value is None:
            continue
        axes.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{name} {value:.2f} ms")
    axes.set_xlabel("latency per inference (ms)")
    axes.set_ylabel("runs")
    axes.legend()
    return _svg(figure)


def sustained(result: JobResult) -> str | None:
    """A sustained job over time: each window's median (or mean) latency, with p90 where measured, the frame
    budget, the onset of throttling, and the device's hottest temperature on a second axis."""
    run = result.sustained
    if run is None or not run.windows:
        return None
    figure = _figure(7.5, 3.4)
    axes = figure.add_subplot()
    middle = [w.start_s + w.timed_s / 2 for w in run.windows]
    axes.plot(middle, [window_center(w) or np.nan for w in run.windows], marker="o", markersize=3, linewidth=1,
              label="median per window" if all(w.latencies_ms for w in run.windows) else "mean per window")
    if all(w.latencies_ms for w in run.windows):
        axes.plot(middle, [float(np.percentile(w.latencies_ms, 90)) for w in run.windows], linewidth=0.8,
                  linestyle="--", label="p90 per window")
    if run.rate_hz:
        axes.axhline(1000.0 / run.rate_hz, color="grey", linewidth=0.8, label=f"frame budget at {run.rate_hz:g} FPS")
    if run.throttle_onset_s is not None:
        axes.axvline(run.throttle_onset_s, color="red", linestyle=":", linewidth=1, label="throttling from here")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("latency (ms)")
    heat = [(t, s.hottest_c) for t, s in run.samples if s.hottest_c is not None]
    if heat:
        twin = axes.twinx()
        twin.plot([t for t, _ in heat], [c for _, c in heat], color="tab:red", linewidth=1, alpha=0.7)
        twin.set_ylabel("hottest temperature (°C)", color="tab:red")
    axes.legend(fontsize=7, loc="upper left", frameon=False)
    return _svg(figure)


MAX_TREND_SERIES = 12


def trends(series: Sequence[Any]) -> str | None:
    """Each series' central latency run after run; regressions as red rings, OS changes as dashed lines, and
    the levels between a series' steps as dotted lines."""
    shown = [s for s in series if len(s.points) >= 2][:MAX_TREND_SERIES]
    if not shown:
        return None
    figure = _figure(7.5, 3.6)
    axes = figure.add_subplot()
    runs = sorted({(p.position, p.created_at) for s in shown for p in s.points})
    for s in shown:
        line, = axes.plot([p.position for p in s.points], [p.center_ms for p in s.points], marker="o", markersize=3,
                          linewidth=1, label=s.label)
        for first, last, level in s.levels:
            axes.hlines(level, first - 0.3, last + 0.3, colors=line.get_color(), linestyles=":", linewidth=1.2)
    top = axes.get_ylim()[1]
    for s in shown:
        for p in s.points:
            if p.regression:
                axes.plot([p.position], [p.center_ms], marker="o", markersize=10, markerfacecolor="none",
                          markeredgecolor="red", linestyle="none")
            if p.change:
                axes.axvline(p.position - 0.5, color="grey", linestyle="--", linewidth=0.8)
                axes.annotate(p.change, (p.position - 0.5, top), fontsize=7, rotation=90, va="top", ha="right",
                              color="grey")
    axes.set_xticks([position for position, _ in runs], [created[:16].replace("T", " ") for _, created in runs],
                    rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("latency (ms)")
    axes.legend(fontsize=7, loc="upper left", frameon=False)
    return _svg(figure)
