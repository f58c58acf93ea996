"""A run judged against the history in the store: per series, a verdict for latency, accuracy and memory.

The baseline of a job is the same series (bench.results.regress.SeriesKey) in up to `window`
earlier runs of the same device. A job whose device, model file, tool or input shape differs from
every earlier run of the same model, variant, accelerator and threads starts a new series: it is
reported as "not comparable" with what changed, never as a regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.results.job_ids import without_device
from bench.results.records import JobResult, JobStatus
from bench.results.regress import (
    SeriesKey,
    Verdict,
    accuracy_verdict,
    latency_verdict,
    memory_verdict,
    night_latency,
    series_key,
    step_verdict,
)
from bench.results.store import RunRecord, Store

DEFAULT_WINDOW = 7
LONG_SERIES = 60  # earlier nights searched for steps in a series' level


def _peak_mb(result: JobResult) -> float | None:
    raw = result.raw
    return None if raw is None else raw.peak_memory_mb


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesVerdicts:
    job_id: str
    series: str
    status: str  # judged | new series | not comparable
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # what differs from the last comparable run
    baseline_runs: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = ()

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.regression]

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "series": self.series, "status": self.status,
                "changed": {k: list(v) for k, v in self.changed.items()}, "baseline_runs": list(self.baseline_runs),
                "verdicts": [v.to_dict() for v in self.verdicts]}


def _what_changed(key: SeriesKey, earlier: SeriesKey) -> dict[str, tuple[str, str]]:
    fields = ("model_sha256", "tool", "input_shape", "device")
    return {name: (str(getattr(earlier, name)), str(getattr(key, name))) for name in fields
            if getattr(earlier, name) != getattr(key, name)}


def judge_run(store: Store, run_id: str, window: int = DEFAULT_WINDOW) -> list[SeriesVerdicts]:
    """Verdicts for every measured job of `run_id` against the earlier runs of the same device."""
    record = store.run(run_id)
    runs = store.runs(limit=None)  # newest first
    position = next(i for i, r in enumerate(runs) if r.run_id == record.run_id)
    earlier = [r for r in runs[position + 1:] if r.device.id == record.device.id]
    history: list[tuple[RunRecord, dict[str, JobResult]]] = [
        (r, {without_device(j.job_id): j for j in store.job_results(r.run_id) if j.status is JobStatus.OK})
        for r in earlier]  # newest first; jobs matched by id without the device alias
    out = []
    for result in store.job_results(run_id):
        if result.status is not JobStatus.OK or result.raw is None:
            continue
        key = series_key(record.device, result)
        same_job = [(r, jobs[without_device(result.job_id)]) for r, jobs in history
                    if without_device(result.job_id) in jobs]
        long_series = [(r, j) for r, j in same_job if j.raw is not None and series_key(r.device, j) == key]
        comparable = long_series[:window]
        if not comparable:
            if same_job and same_job[0][1].raw is not None:
                last_run, last = same_job[0]
                out.append(SeriesVerdicts(job_id=result.job_id, series=key.label(), status="not comparable",
                                          changed=_what_changed(key, series_key(last_run.device, last))))
            else:
                out.append(SeriesVerdicts(job_id=result.job_id, series=key.label(), status="new series"))
            continue
        tonight = night_latency(run_id, result)
        verdicts = [latency_verdict(tonight, [night_latency(r.run_id, j) for r, j in comparable])]
        oldest_first = [night_latency(r.run_id, j) for r, j in reversed(long_series[:LONG_SERIES])]
        step = step_verdict([*oldest_first, tonight], window)
        if step is not None:
            verdicts.append(step)
        accuracy = result.accuracy
        previous = next((j.accuracy for _, j in comparable if j.accuracy and accuracy and j.accuracy.correct_top1
                         and j.accuracy.subset.get("names_sha256") == accuracy.subset.get("names_sha256")), None)
        if accuracy is not None and accuracy.correct_top1 and previous is not None:
            verdicts.append(accuracy_verdict([c == "1" for c in accuracy.correct_top1],
                                             [c == "1" for c in previous.correct_top1]))
        peak, baseline_peaks = _peak_mb(result), [p for _, j in comparable if (p := _peak_mb(j)) is not None]
        if peak is not None:
            verdicts.append(memory_verdict(peak, baseline_peaks))
        changed = _what_changed_os(record, comparable[0][0])
        out.append(SeriesVerdicts(job_id=result.job_id, series=key.label(), status="judged", changed=changed,
                                  baseline_runs=tuple(r.run_id for r, _ in comparable), verdicts=tuple(verdicts)))
    return out


def _what_changed_os(record: RunRecord, previous: RunRecord) -> dict[str, tuple[str, str]]:
    """Within a series the OS build may change (a phone updated overnight): shown next to any verdict."""
    changed = {}
    for name in ("os", "build"):
        before, after = getattr(previous.device, name), getattr(record.device, name)
        if before != after:
            changed[name] = (str(before), str(after))
    return changed
