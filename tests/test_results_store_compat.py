"""Stores written by earlier versions keep loading: today's code, after every migration, reads them whole.

Each `tests/data/stores/store-vN.sqlite` was written once by bench at schema version N (the script
beside it says how) and is never remade.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.cli import main
from bench.results.records import JobStatus
from bench.results.store import SCHEMA_VERSION, Store

STORES = Path(__file__).parent / "data" / "stores"
V1 = STORES / "store-v1.sqlite"


@pytest.fixture
def v1_store(tmp_path: Path) -> Path:
    """A copy of the version-1 store (opening migrates it in place)."""
    copy = tmp_path / "store-v1.sqlite"
    shutil.copyfile(V1, copy)
    return copy


def test_the_fixture_is_at_version_1() -> None:
    with sqlite3.connect(f"file:{V1}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_every_migration_reads_a_version_1_store(v1_store: Path) -> None:
    with Store(v1_store) as store:
        runs = store.runs(limit=None)
        assert sorted(r.run_id for r in runs) == ["20261201-020000-local-aaaa", "20261201-030000-pixel-bbbb",
                                                  "20261201-040000-iphone-cccc"]
        results = {r.job_id: r for run in runs for r in store.job_results(run.run_id)}
    with sqlite3.connect(v1_store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert len(results) == 10
    # what each kind of result held is still there
    fp32 = results["local/efficientnet_lite0/fp32/xnnpack/t1"]
    assert fp32.raw is not None and len(fp32.raw.latencies_ms) == 11 and fp32.accuracy is not None
    assert fp32.accuracy.correct_top1 == "1101" and fp32.latency_ms is not None and fp32.latency_ms.count == 11
    phone = results["pixel/efficientnet_lite0/int8/xnnpack/t4"]
    assert phone.raw is not None and phone.raw.summary is not None
    assert (phone.raw.summary.count, phone.raw.summary.mean_ms, phone.raw.summary.median_ms) == (80, 12.0, 11.95)
    assert phone.raw.delegates[0]["name"] == "XNNPACK" and phone.raw.op_profile is not None
    assert phone.cooldown is not None and (phone.cooldown.waited_s, phone.cooldown.reached) == (35.0, True)
    assert phone.accuracy is not None and phone.accuracy.host_reference is not None
    assert phone.accuracy.host_reference.top1_agreement == 1.0
    together = results["local/efficientnet_lite0/int8/xnnpack/t1/with-fp32"]
    assert together.concurrent is not None and together.concurrent.with_variants == ("fp32",)
    assert together.concurrent.slowdown == pytest.approx(9.5 / 8.1)
    frames = results["local/pipeline-cascade/xnnpack/t1"]
    assert frames.frames is not None and frames.frames.fps == pytest.approx(11 / 0.37)
    assert [s.every for s in frames.frames.stages] == [1, 4]
    sustained = results["pixel/efficientnet_lite0/fp32/xnnpack/t4/sustained"]
    assert sustained.sustained is not None and len(sustained.sustained.windows) == 2
    gpu = results["pixel/efficientnet_lite0/fp32/gpu/t4"]
    assert gpu.accuracy is not None and gpu.accuracy.scored_by is not None and gpu.raw is not None
    assert gpu.raw.accelerator_used == "gpu (partial)"
    failed = results["pixel/efficientnet_lite0/fp32/nnapi/t4"]
    assert failed.status is JobStatus.FAILED and failed.error and "signal 11" in failed.error
    iphone = results["iphone/efficientnet_lite0/fp16/all/t1"]
    assert iphone.raw is not None and iphone.raw.compile_ms == 812.0


def test_a_version_1_store_round_trips(v1_store: Path) -> None:
    """Loading and saving again changes nothing a later load sees."""
    with Store(v1_store) as store:
        for run in store.runs(limit=None):
            for result in store.job_results(run.run_id):
                again = type(result).from_dict(json.loads(json.dumps(result.to_dict())))
                assert again == result


def test_report_reads_a_version_1_store(v1_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for run_id in ("20261201-020000-local-aaaa", "20261201-030000-pixel-bbbb", "20261201-040000-iphone-cccc"):
        assert main(["report", run_id, "--format", "md", "--store", str(v1_store)]) == 0
    table = capsys.readouterr().out
    assert "int8 with fp32" in table and "dynamic@160" in table and "fp16" in table
    assert main(["publish", "--out", str(tmp_path / "site"), "--store", str(v1_store)]) == 0
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) >= 10  # index, three runs, their jobs, devices
