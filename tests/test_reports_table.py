"""The comparison table for a known result set: ratios against FP32, Pareto marks, every format."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from bench.reports.table import NOT_MEASURED, comparison_rows, render
from bench.results.records import AccuracyResult, JobResult, JobStatus, RawRun
from bench.results.stats import latency_stats


def _result(variant: str, latencies: list[float], top1: float | None, size: int, threads: int = 1,
            macs: int | None = None) -> JobResult:
    raw = RawRun(engine="litert-host", engine_version="2.3.0", init_ms=10.0, first_inference_ms=30.0, warmup_ms=(30.0,),
                 latencies_ms=tuple(latencies), peak_rss_after_init_mb=50.0, peak_rss_mb=60.0, model_size_bytes=size,
                 input_shape=(1, 224, 224, 3), accelerator_used="xnnpack", raw_output="")
    accuracy = None if top1 is None else AccuracyResult(top1=top1, top5=0.95, images=200, subset={})
    return JobResult(job_id=f"local/m/{variant}/xnnpack/t{threads}", model="m", variant=variant, model_sha256="00",
                     accelerator="xnnpack", threads=threads, status=JobStatus.OK, raw=raw,
                     latency_ms=latency_stats(latencies), accuracy=accuracy, macs=macs)


KNOWN = [
    _result("fp32", [10.0, 10.0, 12.0, 10.0, 10.0], 0.80, 4_000_000),  # p50 10
    # p50 5 (2x, -1 point, 0.25 size); p90 5.6 (linear between 5 and 6); 3 or more 6s in 5.8% of resamples: CI 5-6
    _result("int8", [5.0, 5.0, 5.0, 6.0, 5.0], 0.79, 1_000_000, macs=385_187_552),
    _result("pruned50", [11.0, 11.0, 11.0, 11.0, 11.0], 0.78, 4_000_000),  # slower and worse than fp32: dominated
    _result("res160", [4.0, 4.0, 4.0, 4.0, 4.0], 0.70, 4_000_000),  # fastest: on the front
    JobResult(job_id="local/m/fp16/xnnpack/t1", model="m", variant="fp16", model_sha256="", accelerator="xnnpack",
              threads=1, status=JobStatus.FAILED, error="host runner failed: bad model"),
]


def test_ratios_against_fp32_and_pareto_marks() -> None:
    rows = {r.variant: r for r in comparison_rows(KNOWN)}
    assert rows["int8"].speedup == pytest.approx(2.0)
    assert rows["int8"].top1_delta_points == pytest.approx(-1.0)
    assert rows["int8"].size_ratio == pytest.approx(0.25)
    assert rows["res160"].speedup == pytest.approx(2.5)
    assert {v for v, r in rows.items() if r.pareto} == {"fp32", "int8", "res160"}
    assert rows["fp16"].status == "failed" and rows["fp16"].speedup is None and not rows["fp16"].pareto


def test_fp32_of_another_thread_count_is_not_the_baseline() -> None:
    rows = comparison_rows([KNOWN[0], _result("int8", [5.0] * 5, 0.79, 1_000_000, threads=2)])
    assert rows[1].speedup is None


def test_terminal_table() -> None:
    text = render(comparison_rows(KNOWN), "table", title="m on host", accuracy_measured=True)
    lines = text.splitlines()
    assert lines[0] == "m on host"
    assert lines[1].split()[:8] == ["variant", "accel", "thr", "size", "MB", "MMACs", "peak", "MB"]
    int8 = next(line for line in lines if line.startswith("int8"))
    assert int8.split() == ["int8", "xnnpack", "1", "1.00", "385.2", "60.0", "10.0", "5.00", "5.00-6.00", "5.60",
                            "192.3", "79.0", "95.0", "2.00x", "-1.0", "0.25", "*"]
    fp32 = next(line for line in lines if line.startswith("fp32"))
    assert fp32.split()[4] == "-"  # not counted (a result stored before MACs were): never a made-up number
    assert "accuracy on 200 ImageNet val images" in text


def test_a_failed_rows_reason_is_said_under_the_table_not_in_a_cell_that_widens_every_row() -> None:
    long_error = "variant not built: " + "x" * 200
    rows = comparison_rows([*KNOWN[:4], replace(KNOWN[4], error=long_error)])
    text = render(rows, "table", title="m on host", accuracy_measured=True)
    lines = text.splitlines()
    fp16 = next(line for line in lines if line.startswith("fp16"))
    assert fp16.split() == ["fp16", "xnnpack", "1", "FAILED"]
    # the rows are as wide as the header, and the header as wide as the table without the failure
    assert max(len(line) for line in lines[1:8]) == len(lines[1]) < 160
    assert f"fp16 xnnpack t1: FAILED: {long_error}" in lines[8:]
    assert f"- fp16 xnnpack t1: FAILED: {long_error}" in render(rows, "md")


def test_markdown_csv_json_and_no_accuracy() -> None:
    rows = comparison_rows(KNOWN)
    md = render(rows, "md", accuracy_measured=False)
    assert md.splitlines()[0].startswith("| variant | accel |") and f"- {NOT_MEASURED}" in md
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert [r["variant"] for r in parsed] == ["fp32", "int8", "pruned50", "res160", "fp16"]
    assert float(parsed[1]["speedup"]) == pytest.approx(2.0)
    assert json.loads(render(rows, "json"))[3]["pareto"] is True


def test_a_summary_only_row_shows_what_the_tool_gave() -> None:
    from dataclasses import replace

    from bench.results.stats import ToolSummary, summary_stats

    phone = replace(KNOWN[1], latency_ms=summary_stats(ToolSummary(count=50, mean_ms=5.0, std_ms=0.1)))
    rows = comparison_rows([KNOWN[0], phone])
    assert rows[1].p50_ms is None and rows[1].speedup is None and rows[1].fps == pytest.approx(200.0)
    line = next(x for x in render(rows, "table").splitlines() if x.startswith("int8"))
    assert line.split()[7:10] == ["-", "-", "-"]  # p50, its CI, p90: not printed by the tool, not invented


def test_an_accelerator_that_fell_back_to_cpu_says_so_in_its_row() -> None:
    from dataclasses import replace

    assert KNOWN[1].raw is not None
    raw = replace(KNOWN[1].raw, accelerator_used="cpu (fallback from gpu)")
    fell_back = replace(KNOWN[1], accelerator="gpu", raw=raw)
    text = render(comparison_rows([KNOWN[0], fell_back]), "table")
    assert "gpu -> cpu (fallback from gpu)" in text
    assert "xnnpack -> " not in text  # the row that ran as asked shows just its accelerator
