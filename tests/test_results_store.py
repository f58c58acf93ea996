"""The SQLite result store: per-job commits, resume bookkeeping, locks, corruption, schema versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.results.device_records import DeviceInfo, Platform
from bench.results.records import JobResult, JobStatus
from bench.results.store import SCHEMA_VERSION, Store, StoreError

DEVICE = DeviceInfo(id="host", platform=Platform.LOCAL, model="test-host")
PLAN = [{"job_id": "a"}, {"job_id": "b"}, {"job_id": "c"}]


def _job(job_id: str, status: JobStatus = JobStatus.OK) -> JobResult:
    return JobResult(job_id=job_id, model="m", variant="fp32", model_sha256="00", accelerator="xnnpack", threads=1,
                     status=status, error=None if status is JobStatus.OK else "boom")


def test_jobs_survive_reopening_and_say_what_is_left(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.create_run(run_id="r1", device=DEVICE, plan=PLAN, config={"threads": [1]}, bench_version="0")
        store.save_job("r1", _job("a"))
        store.save_job("r1", _job("b", JobStatus.FAILED))
    with Store(path) as store:
        record = store.run("r1")
        assert (record.jobs_done, record.jobs_failed, record.complete) == (2, 1, False)
        assert store.done_job_ids("r1") == {"a", "b"}
        assert [r.job_id for r in store.job_results("r1")] == ["a", "b"]
        assert store.run("latest").run_id == "r1"


def test_a_result_is_never_overwritten(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.create_run(run_id="r1", device=DEVICE, plan=PLAN, config={}, bench_version="0")
        store.save_job("r1", _job("a"))
        with pytest.raises(StoreError, match="never overwritten"):
            store.save_job("r1", _job("a"))


def test_unknown_run_and_empty_store_name_the_next_command(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(StoreError, match="python -m bench run"):
            store.run("latest")
        with pytest.raises(StoreError, match="python -m bench runs"):
            store.run("nope")


def test_a_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another bench process"):
            Store(path, timeout_s=0.1).create_run(run_id="r", device=DEVICE, plan=[], config={}, bench_version="0")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StoreError, match=r"unreadable.*--store PATH"):
        Store(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="upgrade bench"):
        Store(path)


def test_a_new_store_opened_by_many_threads_at_once_is_migrated_once(tmp_path: Path) -> None:
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_it() -> None:
        start.wait()
        try:
            with Store(tmp_path / "shared.sqlite") as store:
                store.runs()
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
