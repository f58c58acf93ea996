"""The static HTML site: an index of runs, a page per run, per job and per device, with plots.

Self-contained: CSS and the sorting script are inline, plots are SVG files beside the pages, no
network. Everything is escaped by Jinja2's autoescape (device names, model names and tool output
come from outside). The site is written to a temporary folder next to the target and swapped in,
so a browser never sees half of it; the same store gives the same bytes.

    index.html                       runs, newest first
    runs/<run>/index.html            comparison table and plots per model, links to each job
    runs/<run>/jobs/<job>.html       every number with its unit and meaning, device state, raw output
    devices/<device>.html            the device and its runs
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bench import __version__
from bench.errors import ConfigError
from bench.reports import plots
from bench.reports.table import COLUMNS, PEAK_MEMORY_NOTE, Row, cells, comparison_rows, footnotes
from bench.reports.trends import device_series
from bench.results.device_records import DeviceInfo, DeviceState
from bench.results.records import JobResult, JobStatus, RawRun
from bench.results.store import RunRecord, Store

SITE_MARKER = ".bench-site"  # marks a folder this module may replace


@dataclass(frozen=True, slots=True, kw_only=True)
class RunData:
    record: RunRecord
    results: list[JobResult]


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteSummary:
    path: Path
    runs: int
    pages: int
    plots: int
    size_bytes: int


def slug(text: str) -> str:
    """A file name for any text: safe characters kept, a short hash keeps different texts apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or "x"
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def device_key(device: DeviceInfo) -> str:
    return slug(f"{device.platform.value}-{device.id}")


def _environment() -> Environment:
    return Environment(loader=PackageLoader("bench.reports", "templates"), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


_SORT_KEYS: dict[str, Callable[[Row], object]] = {
    "variant": lambda r: r.variant, "accelerator": lambda r: r.accelerator, "threads": lambda r: r.threads,
    "size": lambda r: r.model_size_bytes, "macs": lambda r: r.macs, "peak": lambda r: r.peak_rss_mb,
    "init": lambda r: r.init_ms,
    "p50": lambda r: r.p50_ms, "ci": lambda r: r.ci95_p50_ms[0] if r.ci95_p50_ms else None,
    "p90": lambda r: r.p90_ms, "fps": lambda r: r.fps, "top1": lambda r: r.top1, "top5": lambda r: r.top5,
    "speedup": lambda r: r.speedup, "delta": lambda r: r.top1_delta_points, "ratio": lambda r: r.size_ratio,
    "pareto": lambda r: int(r.pareto),
}


def _summary(data: RunData) -> dict[str, Any]:
    results = data.results
    return {
        "run_id": data.record.run_id, "created_at": data.record.created_at, "complete": data.record.complete,
        "device_name": data.record.device.model, "platform": data.record.device.platform.value,
        "simulated": data.record.device.simulated,
        "models": list(dict.fromkeys([*(str(j.get("model")) for j in data.record.plan), *(r.model for r in results)])),
        "ok": sum(r.status is JobStatus.OK for r in results),
        "failed": sum(r.status is JobStatus.FAILED for r in results),
        "planned": len(data.record.plan), "warnings": sum(len(r.warnings) for r in results),
    }


class _Writer:
    """Renders pages and plots into one folder, counting what it wrote."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = _environment()
        self.pages = 0
        self.plots = 0

    def page(self, relative: str, template: str, **context: Any) -> None:
        depth = relative.count("/")
        html = self.env.get_template(template).render(root="../" * depth, bench_version=__version__, **context)
        self._write(relative, html)
        self.pages += 1

    def plot(self, relative: str, svg: str | None) -> bool:
        if svg is None:
            return False
        self._write(relative, svg)
        self.plots += 1
        return True

    def _write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _state_rows(before: DeviceState | None, after: DeviceState | None) -> list[dict[str, str]]:
    def flat(state: DeviceState | None) -> dict[str, str]:
        if state is None:
            return {}
        out = {"captured at": state.captured_at}
        out |= {f"temperature {k} (°C)": _number(v, 1) for k, v in state.temperatures_c.items()}
        out |= {f"clock {k} (kHz)": str(v) for k, v in state.cpu_freq_khz.items()}
        for name, value in (("thermal status", state.thermal_status), ("governor", state.governor),
                            ("load average 1 min", state.load_average_1m), ("battery (%)", state.battery_percent),
                            ("charging", state.charging), ("screen on", state.screen_on),
                            ("fixed performance mode", state.fixed_performance)):
            out[name] = "-" if value is None else str(value)
        return out

    first, second = flat(before), flat(after)
    return [{"name": k, "before": first.get(k, "-"), "after": second.get(k, "-")}
            for k in dict.fromkeys([*first, *second])]


OUTSIDE_THE_APP = "memory the Neural Engine or GPU holds outside the app's process is not counted"


def _footprint_rows(raw: RawRun) -> list[tuple[str, str, str, str]]:
    """An iPhone job's memory by phase, and which one the table's peak column shows."""
    in_table = "the table's peak MB" if raw.phys_footprint_predict_peak_mb is not None else ""
    lifetime_in_table = "" if in_table else "the table's peak MB (this runner build reads no phases)"
    rows = [
        ("compile", _number(raw.compile_ms), "ms", "MLModel.compileModel on the phone"),
        ("phys_footprint peak while compiling", _number(raw.phys_footprint_compile_peak_mb, 1), "MB",
         "the app's own reading, every 5 ms while Core ML compiles the package"),
        ("phys_footprint peak while loading", _number(raw.phys_footprint_load_peak_mb, 1), "MB",
         "while MLModel(contentsOf:) loads it for the compute units"),
        ("phys_footprint after loading", _number(raw.phys_footprint_after_load_mb, 1), "MB", "once loaded"),
        ("phys_footprint peak during timed predictions", _number(raw.phys_footprint_predict_peak_mb, 1), "MB",
         "; ".join(x for x in (in_table, "what the app holds while it runs the model", OUTSIDE_THE_APP) if x)),
        ("phys_footprint lifetime peak", _number(raw.phys_footprint_peak_mb, 1), "MB",
         "; ".join(x for x in (lifetime_in_table, "ledger_phys_footprint_peak: compiling and loading included",
                               OUTSIDE_THE_APP) if x)),
        ("phys_footprint peak sampled from the host", _number(raw.sampled_phys_footprint_peak_mb, 1), "MB",
         "sysmontap's physFootprint for the app, a few readings a second"),
    ]
    if raw.compute_plan is None:
        rows.append(("compute plan", raw.compute_plan_unavailable or "-", "", "why Core ML gave no plan"))
    else:
        rows.append(("compute plan", ", ".join(f"{k} {v}" for k, v in raw.compute_plan.items()), "operations",
                     "MLComputePlan's preferred device per operation"))
    return rows


def _numbers(job: JobResult) -> list[dict[str, str]]:
    """Every recorded number of a job, with its unit and what it means."""
    raw, lat, acc = job.raw, job.latency_ms, job.accuracy
    rows: list[tuple[str, str, str, str]] = [("model sha256", job.model_sha256 or "-", "", "the exact file measured")]
    if raw is not None:
        rows += [
            ("engine", f"{raw.engine} {raw.engine_version}", "", "what ran the model"),
            ("accelerator used", raw.accelerator_used, "", "as the engine reported it, not as requested"),
            ("model size", _number(raw.model_size_bytes), "bytes", "the .tflite file on disk"),
            ("input shape", "x".join(str(d) for d in raw.input_shape), "", "the shape timed"),
            ("init", _number(raw.init_ms), "ms", "load the model, apply the delegate, allocate tensors"),
            ("first inference", _number(raw.first_inference_ms), "ms", "the first warm-up run (cold caches)"),
            ("warm-up runs", _number(len(raw.warmup_ms)), "runs", "not counted in the statistics"),
        ]
        rows += _footprint_rows(raw) if raw.engine == "coreml" else [
            ("peak memory after init", _number(raw.peak_rss_after_init_mb, 1), "MB", "VmHWM once the model is ready"),
            ("peak memory", _number(raw.peak_rss_mb, 1), "MB", PEAK_MEMORY_NOTE.removeprefix("peak MB: ")),
        ]
        if raw.tool_memory_overall_delta_mb is not None:
            rows += [
                ("tool's memory delta at init", _number(raw.tool_memory_init_delta_mb, 2), "MB",
                 "benchmark_model's own line: growth of its peak RSS from its start, after init"),
                ("tool's memory delta overall", _number(raw.tool_memory_overall_delta_mb, 2), "MB",
                 "the same over the whole run; excludes what the tool held before loading the model"),
            ]
        for delegate in raw.delegates:
            coverage = "" if delegate.get("nodes_delegated") is None else \
                f", {delegate['nodes_delegated']}/{delegate.get('nodes_total') or '?'} nodes"
            rows.append((f"delegate {delegate['name']}", f"{delegate['status']}{coverage}", "",
                         "as the tool reported it: full, partial, none or failed"))
    if lat is not None:
        rows += [
            ("timed runs", _number(lat.count), "runs", "steady-state iterations, each kept"),
            ("mean", _number(lat.mean), "ms", ""), ("std", _number(lat.std), "ms", "sample standard deviation"),
            ("min", _number(lat.min), "ms", ""), ("p50", _number(lat.p50), "ms", "median"),
            ("p50 95% CI", f"{lat.ci95_p50[0]:.2f}-{lat.ci95_p50[1]:.2f}" if lat.ci95_p50 else "-", "ms",
             "percentile bootstrap of the median" if lat.ci95_p50 else "the tool printed no per-run times"),
            ("p90", _number(lat.p90), "ms", ""), ("p99", _number(lat.p99), "ms", ""),
            ("max", _number(lat.max), "ms", ""),
            ("coefficient of variation", _number(100 * lat.cv, 1), "%", "std / mean; above 10% the run is flagged"),
            ("FPS", _number(lat.fps, 1), "1/s", "1000 / mean latency, one inference at a time"),
        ]
    if acc is not None:
        rule = ", ".join(f"{k} {v}" for k, v in acc.subset.items() if k != "names_sha256")
        rows += [
            ("top-1", _number(100 * acc.top1, 2), "%", "ImageNet val, the first class is right"),
            ("top-5", _number(100 * acc.top5, 2), "%", "the right class is among the five best"),
            ("images", _number(acc.images), "images", f"evaluation subset: {rule}"),
            ("unreadable images", _number(acc.failed_images), "images", "skipped, not counted"),
            ("top-1 agreement with fp32", _number(None if acc.top1_agreement_with_fp32 is None
                                                  else 100 * acc.top1_agreement_with_fp32, 2), "%",
             "images where this variant's first class equals fp32's"),
            ("accuracy job wall time", _number(acc.duration_s), "s", "loading inputs, feeding and scoring every image"),
            _scored_by(acc.scored_by),
        ]
        ref = acc.host_reference
        if ref is not None and ref.top1_agreement is not None and ref.mean_abs_output_diff is not None:
            rows += [
                ("top-1 agreement with the host", _number(100 * ref.top1_agreement, 2), "%",
                 f"against {ref.reference}"),
                ("mean |output - host output|", f"{ref.mean_abs_output_diff:.3g}", "",
                 "large values point at the accelerator's numerics, not the variant"),
            ]
    return [{"name": n, "value": v, "unit": u, "meaning": m} for n, v, u, m in rows]


SLOWEST_OPS = 15


def _scored_by(scored_by: dict[str, Any] | None) -> tuple[str, str, str, str]:
    if scored_by is None:
        return ("scored by", "bench", "", "the variant's own preprocessing; every image's output ranked by bench")
    if scored_by.get("run_eval_not_used"):
        return ("scored by", str(scored_by["tool"]), "", f"not run_eval: {scored_by['run_eval_not_used']}")
    return ("scored by", str(scored_by["tool"]), "",
            f"the tool's own top-k; preprocessing: {scored_by['preprocessing']}")


def _slowest_ops(job: JobResult) -> list[dict[str, object]]:
    """The operators that took longest per run, from the tool's op profile (run order otherwise)."""
    ops = (job.raw.op_profile or {}).get("ops", []) if job.raw else []
    return sorted(ops, key=lambda o: -(o.get("avg_ms") or 0.0))[:SLOWEST_OPS]


def _render_run(writer: _Writer, data: RunData, device_href: str) -> None:
    record, results = data.record, data.results
    base = f"runs/{slug(record.run_id)}"
    job_pages = {r.job_id: f"jobs/{slug(r.job_id)}.html" for r in results}
    measured = any(r.accuracy for r in results) or bool(record.config.get("dataset", {}).get("imagenet"))
    models = []
    for number, model in enumerate(dict.fromkeys(r.model for r in results), start=1):
        jobs = [r for r in results if r.model == model]
        rows = comparison_rows(jobs)
        plot_list = []
        for name, title, svg in (
            ("latency", "Latency distribution (every timed run)",
             plots.latency_distribution(jobs)),
            ("summary", "Latency as the tool summarised it (it printed no per-run times)", plots.latency_summary(jobs)),
            ("accuracy", "Top-1 against latency, Pareto front", plots.accuracy_vs_latency(rows)),
            ("memory", "Peak memory", plots.memory(jobs)),
            ("resolution", "Latency and top-1 against input resolution", plots.resolution(jobs, rows)),
        ):
            src = f"model{number}-{name}.svg"
            if writer.plot(f"{base}/{src}", svg):
                plot_list.append({"title": title, "src": src})
        table_rows = []
        for job, row in zip(jobs, rows, strict=True):
            text = cells(row)
            table_rows.append({
                "href": job_pages[job.job_id], "failed": row.status != JobStatus.OK.value, "pareto": row.pareto,
                "cells": [{"text": text.get(key, ""), "sort": _sort_value(_SORT_KEYS[key](row))} for _, key in COLUMNS],
            })
        models.append({"name": model, "rows": table_rows, "plots": plot_list,
                       "notes": footnotes(rows, measured)})
    summary = _summary(data)
    writer.page(f"{base}/index.html", "run.html", title=f"Run {record.run_id}", run_id=record.run_id,
                created_at=record.created_at, device=record.device, device_href=f"../../{device_href}",
                run_bench_version=record.bench_version, ok=summary["ok"], failed=summary["failed"],
                planned=summary["planned"], complete=record.complete, models=models, headers=[h for h, _ in COLUMNS],
                jobs=[{"job_id": r.job_id, "href": job_pages[r.job_id], "status": r.status.value, "error": r.error}
                      for r in results])
    for job in results:
        page = job_pages[job.job_id]
        histogram = page.removesuffix(".html") + ".svg"
        has_histogram = writer.plot(f"{base}/{histogram}", plots.latency_histogram(job))
        over_time = page.removesuffix(".html") + "-sustained.svg"
        has_over_time = writer.plot(f"{base}/{over_time}", plots.sustained(job))
        writer.page(f"{base}/{page}", "job.html", title=job.job_id, job=job, run_id=record.run_id,
                    run_href="../index.html", device=record.device, device_href=f"../../../{device_href}",
                    numbers=_numbers(job), state=_state_rows(job.state_before, job.state_after),
                    op_types=(job.raw.op_profile or {}).get("by_type", []) if job.raw else [],
                    op_slowest=_slowest_ops(job),
                    histogram=histogram.removeprefix("jobs/") if has_histogram else None,
                    over_time=over_time.removeprefix("jobs/") if has_over_time else None,
                    raw_output=job.raw.raw_output if job.raw else job.tool_output or "")


def _sort_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _render(writer: _Writer, runs: list[RunData]) -> None:
    ordered = sorted(runs, key=lambda d: (d.record.created_at, d.record.run_id), reverse=True)
    summaries = []
    devices: dict[str, tuple[DeviceInfo, list[dict[str, Any]]]] = {}
    for data in ordered:
        device_href = f"devices/{device_key(data.record.device)}.html"
        _render_run(writer, data, device_href)
        summary = _summary(data) | {"href": f"runs/{slug(data.record.run_id)}/index.html", "device_href": device_href}
        summaries.append(summary)
        devices.setdefault(device_key(data.record.device), (data.record.device, []))[1].append(summary)
    writer.page("index.html", "index.html", title="Runs", runs=summaries)
    for key, (device, device_runs) in devices.items():
        listed = [s | {"href": "../" + s["href"]} for s in device_runs]
        history = [(d.record, d.results) for d in reversed(ordered) if device_key(d.record.device) == key]
        series = device_series(history)
        trend = writer.plot(f"devices/{key}-trends.svg", plots.trends(series))
        regressions = [{"series": s.label, "run_id": p.run_id, "created_at": p.created_at, "evidence": p.regression}
                       for s in series for p in s.points if p.regression]
        writer.page(f"devices/{key}.html", "device.html", title=device.model, device=device, runs=listed,
                    trend=f"{key}-trends.svg" if trend else None, regressions=regressions)


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).is_file())):
        raise ConfigError(f"{out} exists and is not a bench site; choose another --out or empty it first")


def write_site(runs: list[RunData], out: Path) -> SiteSummary:
    """Render the site for `runs` into a temporary folder beside `out`, then swap it in."""
    out = out.resolve()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.new-{secrets.token_hex(4)}")
    staging.mkdir()
    try:
        writer = _Writer(staging)
        _render(writer, runs)
        (staging / SITE_MARKER).write_text("generated by bench; `bench publish` replaces this folder\n")
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        if out.exists():
            retired = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SiteSummary(path=out, runs=len(runs), pages=writer.pages, plots=writer.plots, size_bytes=size)


def publish(store: Store, out: Path, run_ids: list[str] | None = None) -> SiteSummary:
    """Write the site for the given runs (every stored run when None) into `out`, replacing it whole."""
    records = [store.run(run_id) for run_id in run_ids] if run_ids is not None else store.runs(limit=None)
    return write_site([RunData(record=r, results=store.job_results(r.run_id)) for r in records], out)
