"""The SQLite result store: per-job commits, resume bookkeeping, locks, corruption, schema versions."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
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


def _two_runs(path: Path) -> None:
    from bench.results.stats import latency_stats

    latency = latency_stats([10.0, 11.0, 12.0, 10.5, 11.5])
    with Store(path) as store:
        for run_id in ("r1", "r2"):
            store.create_run(run_id=run_id, device=DEVICE, plan=PLAN[:2], config={}, bench_version="0")
            for job_id in ("a", "b"):
                store.save_job(run_id, replace(_job(f"host/m/{job_id}/xnnpack/t1"), variant=job_id,
                                               latency_ms=latency))


def _garble(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


def test_one_garbled_row_is_reported_once_and_every_command_reads_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    import json

    from bench.cli import main

    path = tmp_path / "s.sqlite"
    _two_runs(path)
    _garble(path, "UPDATE jobs SET result_json = '{\"job_id\": garbage' WHERE run_id = 'r1' AND job_id LIKE '%/a/%'")
    store = ["--store", str(path)]
    assert main(["runs", *store]) == 0 and "r1" in capsys.readouterr().out
    assert main(["report", "r1", *store]) == 0
    assert "\nb  " in capsys.readouterr().out  # the other job's row
    assert main(["export", "r1", *store]) == 0
    assert [r["variant"] for r in json.loads(capsys.readouterr().out)["results"]] == ["b"]
    assert main(["regress", "r2", "--no-fail", *store]) == 0
    assert main(["publish", "--out", str(tmp_path / "site"), *store]) == 0
    assert (tmp_path / "site" / "index.html").is_file()
    warnings = [r.getMessage() for r in caplog.records if "garbage" not in r.getMessage() and "not JSON" in
                r.getMessage()]
    assert warnings and all(w.startswith("run r1 job host/m/a/xnnpack/t1: its result is not JSON") for w in warnings)
    capsys.readouterr()
    assert main(["runs", "--check", *store]) == 1
    out = capsys.readouterr().out
    assert "1 damaged row(s)" in out and "run r1 job host/m/a/xnnpack/t1: its result is not JSON" in out

    _garble(path, "UPDATE runs SET device_json = '[1, 2' WHERE run_id = 'r2'")
    assert main(["runs", *store]) == 0
    assert "r2" not in capsys.readouterr().out
    assert main(["report", "r2", *store]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: run r2 in ") and "cannot be read (its device is not JSON" in err
    assert main(["runs", "--check", *store]) == 1 and "run r2 (the run's own row)" in capsys.readouterr().out


def test_damaged_pages_are_a_clear_error_for_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    path = tmp_path / "s.sqlite"
    _two_runs(path)
    _garble(path, "VACUUM")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 3 * page
    data[page:len(data)] = bytes(range(256)) * ((len(data) - page) // 256)  # every page after the header page
    path.write_bytes(bytes(data))
    for command in (["runs"], ["runs", "--check"], ["report", "latest"], ["export", "latest"], ["regress", "latest"],
                    ["publish", "--out", str(tmp_path / "site")]):
        code = main([*command, "--store", str(path)])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and "unreadable" in err and "--store PATH" in err, (command, err)
