"""Two variants run at the same time, each in its own process: on this host and on a simulated phone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.sim.profiles import set_faults
from tests.simfixtures import simulated_phones

TOGETHER = ["--variants", "fp32,fp16", "--concurrent", "fp32,fp16", "--concurrent-s", "2", "--threads", "1",
            "--num-runs", "10", "--min-secs", "0.5", "--warmup-min-secs", "0", "--json"]


def _together(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["run", *args, *TOGETHER])
    run = json.loads(capsys.readouterr().out)
    assert code in (0, 2), run  # 2: a shared machine's timings may be flagged unstable
    results = {r["job_id"].split("/", 1)[1]: r for r in run["results"]}
    assert all(r["status"] == "ok" for r in results.values()), results
    assert results["efficientnet_lite0/fp32/xnnpack/t1/with-fp16"]["variant"] == "fp32 with fp16"
    return {r["variant"]: r for r in results.values()}


def _check(together: dict, alone: dict) -> None:  # type: ignore[type-arg]
    facts = together["concurrent"]
    assert facts["solo_job"] == alone["job_id"] and facts["with"]
    assert facts["slowdown"] == pytest.approx(facts["center_ms"] / facts["solo_center_ms"])
    assert facts["shared_wall_share"] > 0.5, facts  # the two tools really ran at the same time


def test_two_variants_at_once_on_the_host(lite0_variants, session_cache: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(session_cache))  # the session's variants: nothing is rebuilt
    results = _together(capsys, "--device", "local")
    for variant in ("fp32", "fp16"):
        _check(results[f"{variant} with {'fp16' if variant == 'fp32' else 'fp32'}"], results[variant])
    group = results["fp32 with fp16"]["concurrent"]["group_fps"]
    assert group == pytest.approx(sum(results[v]["concurrent"]["fps"] for v in ("fp32 with fp16", "fp16 with fp32")))


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> Iterator[Path]:
    import os

    saved = os.environ.get("BENCH_CACHE")
    with simulated_phones(tmp_path_factory.mktemp("concurrent"), 1) as phones:
        os.environ["BENCH_CACHE"] = str(session_cache)
        try:
            yield phones / "phone1"
        finally:
            os.environ["BENCH_CACHE"] = saved or ""


def test_two_variants_on_a_phone_with_one_core_each_wait_for_the_other(
        lite0_variants, phone: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    set_faults(phone, invoke_delay_ms=30.0, one_core=True)  # the phone computes one inference at a time
    results = _together(capsys, "--device", "sim1")
    solo_fps = []
    for variant, other in (("fp32", "fp16"), ("fp16", "fp32")):
        together = results[f"{variant} with {other}"]
        _check(together, results[variant])
        facts = together["concurrent"]
        # sharing one core, each is slower than alone (benchmark_model's means: it prints no per-run list) ...
        assert facts["slowdown"] > 1.2 and facts["center"] == "the tool's mean", facts
        solo_fps.append(facts["solo_fps"])
    # ... and together they do no more than one of them did alone, where two free cores would give about twice
    assert facts["group_fps"] < 1.3 * max(solo_fps), (facts, solo_fps)
