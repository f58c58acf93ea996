"""The comparison table a user decides from: one row per variant (and accelerator / threads).

Against the FP32 row of the same model, accelerator and threads: speed-up (FP32 p50 / row p50),
accuracy delta in points, and size ratio. Rows that no other row beats on both latency (p50) and
top-1 are marked Pareto-optimal.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from bench.results.device_records import COMPUTE_UNITS
from bench.results.records import JobResult, JobStatus

FORMATS = ("table", "md", "csv", "json")
PEAK_MEMORY_NOTE = ("peak MB: peak resident set (VmHWM) of the process that ran the model: its heap, the mapped "
                    "model file and the pages of the runtime's libraries it touched")
FOOTPRINT_NOTE = ("peak MB on an iPhone: the app's phys_footprint at its highest during the timed predictions, what "
                  "iOS counts against its memory limit (the runner app's own reading; compile and load peaks are on "
                  "the job page); memory the Neural Engine or GPU holds outside the app is not in it")
LIFETIME_FOOTPRINT_NOTE = ("peak MB marked * on an iPhone: the app's lifetime phys_footprint peak, compiling and "
                           "loading the model included (a runner build that does not read phases); memory the "
                           "Neural Engine or GPU holds outside the app is not in it")
NOT_MEASURED = "accuracy not measured: pass --imagenet DIR (or set BENCH_IMAGENET) to score on ImageNet val"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    model: str
    variant: str
    accelerator: str
    accelerator_used: str | None  # what the engine says ran it: "cpu (fallback from gpu)" when a delegate failed
    threads: int
    status: str
    error: str | None
    failure: str | None  # a failed job: transport, not-run or tool (bench.results.records.FailureKind)
    model_size_bytes: int | None
    macs: int | None  # one inference's multiply-accumulates at the timed input (bench.models.macs)
    peak_rss_mb: float | None  # VmHWM; on an iPhone phys_footprint (peak_memory_kind says which)
    peak_memory_kind: str | None
    init_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    ci95_p50_ms: tuple[float, float] | None
    fps: float | None
    top1: float | None
    top5: float | None
    images: int | None
    subset: str | None  # a named subset's name (datasets/), else None
    scored_by: str | None  # None: bench with the variant's preprocessing; else the device tool that scored (run_eval)
    speedup: float | None
    top1_delta_points: float | None
    size_ratio: float | None
    pareto: bool
    warnings: tuple[str, ...]
    unreadable_images: tuple[str, ...] = ()  # ImageNet files that could not be read: skipped, not counted


def _base_row(r: JobResult) -> dict[str, Any]:
    raw, lat, acc = r.raw, r.latency_ms, r.accuracy
    return {
        "model": r.model, "variant": r.variant, "accelerator": r.accelerator,
        "accelerator_used": raw.accelerator_used if raw else None, "threads": r.threads,
        "status": r.status.value, "error": r.error, "failure": r.failure.value if r.failure else None,
        "model_size_bytes": raw.model_size_bytes if raw else None, "macs": r.macs,
        "peak_rss_mb": None if raw is None else raw.peak_memory_mb,
        "peak_memory_kind": None if raw is None else raw.peak_memory_kind,
        "init_ms": raw.init_ms if raw else None, "p50_ms": lat.p50 if lat else None, "p90_ms": lat.p90 if lat else None,
        "ci95_p50_ms": lat.ci95_p50 if lat else None, "fps": lat.fps if lat else None,
        "top1": acc.top1 if acc else None, "top5": acc.top5 if acc else None, "images": acc.images if acc else None,
        "subset": ((acc.subset or {}).get("manifest") or {}).get("name") if acc else None,
        "scored_by": (acc.scored_by or {}).get("tool") if acc and acc.scored_by and
        not acc.scored_by.get("run_eval_not_used") else None,
        "warnings": r.warnings, "unreadable_images": tuple(name for name, _ in acc.unreadable) if acc else (),
    }


def comparison_rows(results: list[JobResult]) -> list[Row]:
    """Return the rows, with ratios against FP32 and the Pareto marks."""
    bases = [_base_row(r) for r in results]
    fp32 = {(b["model"], b["accelerator"], b["threads"]): b for b in bases
            if b["variant"] == "fp32" and b["status"] == JobStatus.OK.value}
    rows = []
    for b in bases:
        ref = fp32.get((b["model"], b["accelerator"], b["threads"]))
        speedup = delta = size = None
        if ref is not None and b["status"] == JobStatus.OK.value:
            speedup = ref["p50_ms"] / b["p50_ms"] if b["p50_ms"] and ref["p50_ms"] else None
            # points between two ways of scoring (run_eval preprocesses by its own rules) would mislead
            if b["top1"] is not None and ref["top1"] is not None and b["scored_by"] == ref["scored_by"]:
                delta = 100 * (b["top1"] - ref["top1"])
            size = b["model_size_bytes"] / ref["model_size_bytes"] if b["model_size_bytes"] else None
        rows.append(Row(**b, speedup=speedup, top1_delta_points=delta, size_ratio=size,
                        pareto=_pareto(b, bases)))
    return rows


def _pareto(row: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    """No other row of the same model is at least as fast and as accurate, and better in one."""
    if row["p50_ms"] is None or row["top1"] is None:
        return False
    for other in rows:
        if other is row or other["model"] != row["model"] or other["p50_ms"] is None or other["top1"] is None:
            continue
        if (other["p50_ms"] <= row["p50_ms"] and other["top1"] >= row["top1"]
                and (other["p50_ms"] < row["p50_ms"] or other["top1"] > row["top1"])):
            return False
    return True


COLUMNS = (
    ("variant", "variant"), ("accel", "accelerator"), ("thr", "threads"), ("size MB", "size"), ("MMACs", "macs"),
    ("peak MB", "peak"), ("init ms", "init"), ("p50 ms", "p50"), ("p50 95% CI", "ci"), ("p90 ms", "p90"),
    ("FPS", "fps"), ("top-1", "top1"), ("top-5", "top5"), ("speed-up", "speedup"), ("Δtop-1 pts", "delta"),
    ("size x", "ratio"), ("pareto", "pareto"),
)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cells(row: Row) -> dict[str, str]:
    if row.status != JobStatus.OK.value:
        return {"variant": row.variant, "accelerator": row.accelerator, "threads": str(row.threads),
                "size": "not run" if row.failure == "not-run" else "FAILED"}  # why: under the table (failure_note)
    ci = f"{row.ci95_p50_ms[0]:.2f}-{row.ci95_p50_ms[1]:.2f}" if row.ci95_p50_ms else "-"
    return {
        "variant": row.variant + (" !" if row.warnings else ""),
        "accelerator": row.accelerator if row.accelerator_used in (None, row.accelerator)
        else f"{row.accelerator} -> {row.accelerator_used}",
        "threads": str(row.threads),
        "size": _num(row.model_size_bytes / 1e6 if row.model_size_bytes else None, 2),
        "macs": _num(row.macs / 1e6 if row.macs else None, 1),
        "peak": _num(row.peak_rss_mb, 1) + ("*" if row.peak_memory_kind == "phys_footprint lifetime" else ""),
        "init": _num(row.init_ms, 1), "p50": _num(row.p50_ms, 2), "ci": ci,
        "p90": _num(row.p90_ms, 2), "fps": _num(row.fps, 1),
        "top1": _num(100 * row.top1 if row.top1 is not None else None, 1) + (" †" if row.scored_by else ""),
        "top5": _num(100 * row.top5 if row.top5 is not None else None, 1),
        "speedup": _num(row.speedup, 2) + ("x" if row.speedup else ""),
        "delta": "-" if row.top1_delta_points is None else f"{row.top1_delta_points:+.1f}",
        "ratio": _num(row.size_ratio, 2), "pareto": "*" if row.pareto else "",
    }


def footnotes(rows: list[Row], accuracy_measured: bool) -> list[str]:
    notes = []
    if not accuracy_measured:
        notes.append(NOT_MEASURED)
    else:
        images = {r.images for r in rows if r.images}
        named = sorted({r.subset for r in rows if r.subset})
        notes.append(f"accuracy on {', '.join(str(i) for i in sorted(images))} ImageNet val images "
                     + (f"of subset {', '.join(named)} (datasets/)" if named else "(never the calibration split)"))
    tools = sorted({r.scored_by for r in rows if r.scored_by})
    if tools:
        notes.append(f"† scored on the device by {', '.join(tools)} with its own preprocessing, not the variant's; "
                     "no Δtop-1 against a row scored another way")
    unreadable = sorted({image for row in rows for image in row.unreadable_images})
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else "")
        notes.append(f"{len(unreadable)} ImageNet image(s) could not be read, skipped and not counted in top-1/top-5: "
                     f"{shown}; python -m bench datasets check DIR says why")
    notes += [failure_note(row) for row in rows if row.status != JobStatus.OK.value]
    for row in rows:
        for warning in row.warnings:
            threads = f"{row.threads} thread" + ("s" if row.threads != 1 else "")
            notes.append(f"! {row.variant} ({row.accelerator}, {threads}): {warning}")
    kinds = {r.peak_memory_kind for r in rows}
    if "vmhwm" in kinds or not kinds - {None}:
        notes.append(PEAK_MEMORY_NOTE)
    if "phys_footprint" in kinds:
        notes.append(FOOTPRINT_NOTE)
    if "phys_footprint lifetime" in kinds:
        notes.append(LIFETIME_FOOTPRINT_NOTE)
    return notes


def failure_note(row: Row) -> str:
    """Why a row has no numbers, said once under the table rather than in a cell that would widen every row."""
    error = row.error or "no reason was stored"
    return f"{row.variant} {row.accelerator} t{row.threads}: " + (error if row.failure == "not-run"
                                                                   else f"FAILED: {error}")


def render(rows: list[Row], fmt: str, *, title: str = "", accuracy_measured: bool = True) -> str:
    """Render the rows as a terminal table, Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (";".join(v) if isinstance(v, tuple) and k in ("warnings", "unreadable_images") else v)
                             for k, v in asdict(r).items()})
        return buffer.getvalue()
    headers = [h for h, _ in COLUMNS]
    if rows and all(r.accelerator in COMPUTE_UNITS for r in rows):  # Core ML on an iPhone
        headers[headers.index("accel")] = "compute units"
    body = [[cells(r).get(key, "") for _, key in COLUMNS] for r in rows]
    notes = footnotes(rows, accuracy_measured)
    if fmt == "md":
        lines = [f"### {title}", ""] if title else []
        lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in body]
        return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt}")
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(headers)]
    out = [title] if title else []
    out.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join([*out, "", *notes]) + "\n"


def row_line(results: list[JobResult], job_id: str) -> str:
    """One job's row as a line, as it lands (against the fp32 row when that is measured already): what a run
    prints before its table."""
    row = comparison_rows(results)[[r.job_id for r in results].index(job_id)]
    c = cells(row)
    head = f"{row.variant} {c['accelerator']} t{row.threads}:"
    if row.status != JobStatus.OK.value:
        return failure_note(row)
    rest = [("p90 {} ms", "p90"), ("{} FPS", "fps"), ("init {} ms", "init"), ("peak {} MB", "peak"), ("{} MB", "size")]
    # a phone's summary has no p90 or CI: left out, not shown as "-"
    parts = [f"p50 {c['p50']} ms" + (f" ({c['ci']})" if c["ci"] != "-" else "")]
    parts += [form.format(c[key]) for form, key in rest if c[key] != "-"]
    if row.top1 is not None:
        parts.append(f"top-1 {c['top1']} top-5 {c['top5']}")
    if row.speedup is not None and row.variant != "fp32":
        parts.append(f"{c['speedup']} fp32's speed" + (f", {c['delta']} pts" if row.top1_delta_points is not None
                                                        else ""))
    return f"{head} " + ", ".join(parts) + (" !" if row.warnings else "")
