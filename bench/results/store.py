"""The result store: SQLite through the standard library. Only I/O lives here.

A run (one `bench run`) holds its planned jobs; each job's result is committed in its own
transaction as soon as it is measured, so an interrupted run loses nothing already measured and can
be resumed. The schema is versioned with `PRAGMA user_version` and upgraded by ordered migrations.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import ResultFormatError
from bench.results.device_records import DeviceInfo
from bench.results.records import FailureKind, JobResult

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit one that has shipped, append instead.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        device_id TEXT NOT NULL,
        device_json TEXT NOT NULL,
        plan_json TEXT NOT NULL,
        config_json TEXT NOT NULL,
        bench_version TEXT NOT NULL
    );
    CREATE TABLE jobs (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        job_id TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        status TEXT NOT NULL,
        model TEXT NOT NULL,
        variant TEXT NOT NULL,
        accelerator TEXT NOT NULL,
        threads INTEGER NOT NULL,
        result_json TEXT NOT NULL,
        PRIMARY KEY (run_id, job_id)
    );
    CREATE INDEX runs_by_device ON runs(device_id, created_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# A job a resume runs again (JobResult.to_retry), as SQL over the stored row
_TO_RETRY = ("(status = 'failed' AND CASE WHEN json_valid(result_json) THEN json_extract(result_json, '$.failure') "
             f"END IN ({', '.join(repr(k.value) for k in FailureKind if k.retried_on_resume)}))")


class StoreError(ResultFormatError):
    """The store cannot be opened, is locked, or holds something this version cannot read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    run_id: str
    created_at: str
    device: DeviceInfo
    plan: list[dict[str, Any]]
    config: dict[str, Any]
    bench_version: str
    jobs_done: int  # stored, ok or failed
    jobs_failed: int
    jobs_to_retry: int = 0  # failed for a transport reason or never run: a resume runs them again

    @property
    def complete(self) -> bool:
        """Every job is ok or failed for a reason of its own (the tool, the model)."""
        return self.jobs_done - self.jobs_to_retry >= len(self.plan)


class Store:
    """One SQLite file of runs and job results."""

    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self.path = path
        self._reported: set[tuple[str, str | None]] = set()  # damaged rows already reported
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
            self._wal(timeout_s)
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _wal(self, timeout_s: float) -> None:
        """Switch a new store to WAL. The switch upgrades a shared lock to an exclusive one, and SQLite answers
        "locked" at once, without waiting, when another connection is upgrading too (threads or processes
        opening a new store together): try again until the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(f"result store {self.path} is locked by another bench process; wait for it or "
                              "pass --store PATH")
        return StoreError(f"result store {self.path} is unreadable ({text}); move it aside or pass --store PATH")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _migrate(self) -> None:
        """Apply the missing migrations, one transaction each. The version is read inside the write lock:
        two processes (or a lab's threads) opening a new store at once migrate it once."""
        while True:
            with self._transaction() as db:
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise StoreError(f"result store {self.path} has schema {version}, newer than this bench "
                                     f"({SCHEMA_VERSION}); upgrade bench")
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_run(self, *, run_id: str, device: DeviceInfo, plan: list[dict[str, Any]], config: dict[str, Any],
                   bench_version: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, datetime.now(UTC).isoformat(timespec="seconds"), device.id, json.dumps(device.to_dict()),
                 json.dumps(plan), json.dumps(config), bench_version),
            )

    def save_job(self, run_id: str, result: JobResult, *, retrying: bool = False) -> None:
        """Commit one job's result. A result is never overwritten, except, when `retrying`, a failure a resume
        runs again (a lost phone, a hang: the new result keeps its error in `earlier_errors`)."""
        with self._transaction() as db:
            exists = db.execute("SELECT result_json FROM jobs WHERE run_id = ? AND job_id = ?",
                                (run_id, result.job_id)).fetchone()
            if exists:
                try:
                    replaceable = retrying and _job_result(exists[0]).to_retry
                except DamagedRow:
                    replaceable = False
                if not replaceable:
                    raise StoreError(f"run {run_id} already holds job {result.job_id}; results are never "
                                     "overwritten")
                db.execute("DELETE FROM jobs WHERE run_id = ? AND job_id = ?", (run_id, result.job_id))
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, result.job_id, datetime.now(UTC).isoformat(timespec="seconds"), result.status.value,
                 result.model, result.variant, result.accelerator, result.threads, json.dumps(result.to_dict())),
            )

    def job_results(self, run_id: str) -> list[JobResult]:
        """The run's results in the order they were stored; a row that cannot be read is reported (once) and
        skipped, so one damaged row never hides the rest."""
        rows = self._query("SELECT job_id, result_json FROM jobs WHERE run_id = ? ORDER BY rowid", (run_id,))
        results = []
        for job_id, text in rows:
            try:
                results.append(_job_result(text))
            except DamagedRow as exc:
                self._report_damage(run_id, job_id, str(exc))
        return results

    def _report_damage(self, run_id: str, job_id: str | None, what: str) -> None:
        if (run_id, job_id) not in self._reported:
            self._reported.add((run_id, job_id))
            where = f"run {run_id}" + (f" job {job_id}" if job_id else "")
            log.warning("%s: %s; skipped (list damaged rows with: python -m bench runs --check)", where, what)

    def damaged(self) -> list[tuple[str, str | None, str]]:
        """Every row this version cannot read: (run id, job id or None for the run's own row, what is wrong);
        damage to the file's pages first, as SQLite's integrity check finds it."""
        found: list[tuple[str, str | None, str]] = []
        problems = [row[0] for row in self._query("PRAGMA integrity_check(20)", ()) if row[0] != "ok"]
        found += [("-", None, f"SQLite: {problem}") for problem in problems]
        for row in self._query("SELECT * FROM runs ORDER BY created_at, rowid", ()):
            try:
                _run_parts(row)
            except DamagedRow as exc:
                found.append((row[0], None, str(exc)))
        for run_id, job_id, text in self._query("SELECT run_id, job_id, result_json FROM jobs ORDER BY rowid", ()):
            try:
                _job_result(text)
            except DamagedRow as exc:
                found.append((run_id, job_id, str(exc)))
        return found

    def done_job_ids(self, run_id: str) -> set[str]:
        return {row[0] for row in self._query("SELECT job_id FROM jobs WHERE run_id = ?", (run_id,))}

    def has_run(self, run_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))

    def run(self, run_id: str) -> RunRecord:
        if run_id == "latest":
            latest = self._query("SELECT run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1", ())
            if not latest:
                raise StoreError(f"result store {self.path} holds no runs yet; start one with: python -m bench run")
            run_id = latest[0][0]
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id!r} in {self.path}; list them with: python -m bench runs")
        try:
            return self._record(rows[0])
        except DamagedRow as exc:
            raise StoreError(f"run {run_id} in {self.path} cannot be read ({exc}); list damaged rows with: "
                             "python -m bench runs --check") from exc

    def runs(self, limit: int | None = 50) -> list[RunRecord]:
        """Return runs newest first; all of them when `limit` is None. A run whose own row cannot be read is
        reported (once) and left out."""
        rows = self._query("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?",
                           (-1 if limit is None else limit,))
        records = []
        for row in rows:
            try:
                records.append(self._record(row))
            except DamagedRow as exc:
                self._report_damage(row[0], None, str(exc))
        return records

    def _record(self, row: tuple[Any, ...]) -> RunRecord:
        run_id, created_at, device, plan, config, version = _run_parts(row)
        counts = self._query(f"SELECT COUNT(*), SUM(status = 'failed'), SUM({_TO_RETRY}) FROM jobs WHERE run_id = ?",
                             (run_id,))[0]
        return RunRecord(run_id=run_id, created_at=created_at, device=device, plan=plan, config=config,
                         bench_version=version,
                         jobs_done=int(counts[0]), jobs_failed=int(counts[1] or 0), jobs_to_retry=int(counts[2] or 0))

    def to_retry(self, run_id: str) -> list[str]:
        """The jobs of the run that a resume would run again, in the order they were stored."""
        return [row[0] for row in self._query(f"SELECT job_id FROM jobs WHERE run_id = ? AND {_TO_RETRY} "
                                              "ORDER BY rowid", (run_id,))]

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc


class DamagedRow(Exception):
    """A stored row this version cannot read: text that is not JSON, or JSON missing what a record needs."""


def _decoded(text: Any, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise DamagedRow(f"{what} is not JSON ({exc})") from exc


def _job_result(text: Any) -> JobResult:
    data = _decoded(text, "its result")
    try:
        return JobResult.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DamagedRow(f"its result lacks or garbles {exc!s}") from exc


def _run_parts(row: tuple[Any, ...]) -> tuple[str, str, DeviceInfo, list[dict[str, Any]], dict[str, Any], str]:
    run_id, created_at, _, device_json, plan_json, config_json, version = row
    device, plan, config = (_decoded(device_json, "its device"), _decoded(plan_json, "its plan"),
                            _decoded(config_json, "its settings"))
    try:
        info = DeviceInfo.from_dict(device)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DamagedRow(f"its device lacks or garbles {exc!s}") from exc
    if not isinstance(plan, list) or not isinstance(config, dict):
        raise DamagedRow("its plan or settings are not what a run stores")
    return run_id, created_at, info, plan, config, version
