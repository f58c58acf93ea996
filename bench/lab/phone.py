"""One phone's night: its lease, its health check, its jobs with retries and quarantine, then its verdicts.

Never raises for a phone's trouble: what went wrong is the phone's status and reasons, so the other
phones' night goes on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.devices.inventory import InventoryEntry
from bench.errors import BenchError
from bench.lab.health import health_problems
from bench.lab.lease import phone_lease
from bench.lab.settings import LabSettings
from bench.results.history import SeriesVerdicts, judge_run
from bench.results.records import FailureKind, JobStatus
from bench.results.store import Store
from bench.run.builds import BuildsByPlatform
from bench.run.context import Hooks
from bench.run.stages import execute_run, open_configured

log = logging.getLogger(__name__)



@dataclass(slots=True)
class PhoneNight:
    alias: str
    status: str = "waiting"  # waiting | running | done | quarantined | lost (its lab node went away)
    reasons: list[str] = field(default_factory=list)
    run_id: str | None = None
    ok: int = 0
    failed: int = 0
    not_run: int = 0
    retries: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    verdicts: list[SeriesVerdicts] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "status": self.status, "reasons": self.reasons, "run_id": self.run_id,
                "ok": self.ok, "failed": self.failed, "not_run": self.not_run, "retries": self.retries,
                "wall_s": round(self.wall_s, 2), "regressions": sum(len(v.regressions) for v in self.verdicts),
                "series": [v.to_dict() for v in self.verdicts]}


# what a phone's run tells as it goes: ("run", RunRecord) once it is in the store, ("result", JobResult) after
# each job, ("retry", {"job_id", "attempt", "reason"}) before another try
Report = Callable[[str, Any], None]


def measure_phone(phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                  store: Store, cache_root: Path, built: BuildsByPlatform, report: Report | None = None) -> None:
    """Open the phone, take its lease, check its health and run its jobs into `store`; record how it went in `phone`.

    Never raises for a phone's trouble: it is the phone's status and reasons.
    """
    def tell(kind: str, payload: Any) -> None:
        if report is not None:
            report(kind, payload)

    try:
        device = open_configured(config, phone.alias, inventory={phone.alias: entry} if entry else None)
        serial = getattr(device, "serial", None) or getattr(device, "udid", phone.alias)
        with phone_lease(str(serial)):
            problems = health_problems(device, settings.health)
            if problems:
                phone.status, phone.reasons = "quarantined", problems
                return
            phone.status = "running"

            def started(run_id: str) -> None:
                phone.run_id = run_id
                tell("run", store.run(run_id))

            def retried(job_id: str, attempt: int, reason: str) -> None:
                phone.retries.append({"job_id": job_id, "attempt": attempt, "reason": reason})
                tell("retry", phone.retries[-1])

            hooks = Hooks(retries=settings.retries, on_retry=retried, stop_after_failures=settings.quarantine_after,
                          on_start=started)
            outcome = execute_run(config, store, cache_root, device_alias=phone.alias, resume=phone.run_id,
                                  hooks=hooks, prebuilt=built, device=device,
                                  on_job=lambda result, *_: tell("result", result))
            phone.status, phone.reasons = ("quarantined", [outcome.stopped]) if outcome.stopped else ("done", [])
    except BenchError as exc:
        phone.status, phone.reasons = "quarantined", [*phone.reasons, str(exc)]
    except Exception as exc:  # a bug in one phone's run must not lose the others' night
        log.exception("%s: unexpected error", phone.alias)
        phone.status, phone.reasons = "quarantined", [*phone.reasons, f"internal error: {exc!r}"]


def conclude(phone: PhoneNight, store: Store, settings: LabSettings) -> None:
    """Count the phone's jobs from the store (done, failed, not run) and judge its run against its history."""
    if phone.run_id is None:
        return
    record = store.run(phone.run_id)
    results = store.job_results(phone.run_id)
    never_started = sum(r.failure is FailureKind.NOT_RUN for r in results)
    phone.ok = sum(r.status is JobStatus.OK for r in results)
    phone.failed = sum(r.status is JobStatus.FAILED for r in results) - never_started
    phone.not_run = len(record.plan) - len(results) + never_started
    phone.verdicts = judge_run(store, phone.run_id, window=settings.window)


@contextlib.contextmanager
def phone_session(phone: PhoneNight, save: Callable[[], None]) -> Iterator[None]:
    """Time a phone's night, set the phone aside on a BenchError (its store, say), and save the night after."""
    started = time.monotonic()
    try:
        yield
    except BenchError as exc:
        phone.status, phone.reasons = "quarantined", [*phone.reasons, str(exc)]
    finally:
        phone.wall_s = time.monotonic() - started
        save()


def phone_night(phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                 store_path: Path, cache_root: Path, built: BuildsByPlatform, save: Callable[[], None]) -> None:
    with phone_session(phone, save), Store(store_path) as store:
        measure_phone(phone, config, settings, entry, store, cache_root, built,
                      report=lambda kind, _: save() if kind != "result" else None)
        conclude(phone, store, settings)
