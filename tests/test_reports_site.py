"""The static HTML site: escaped, idempotent, swapped in whole, never over someone else's folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.reports import site
from bench.reports.site import publish
from bench.results.store import Store
from tests.sitefixtures import HOSTILE, VARIANTS, make_store


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def published(tmp_path: Path) -> Path:
    with make_store(tmp_path / "s.sqlite") as store:
        publish(store, tmp_path / "site")
    return tmp_path / "site"


def test_every_run_job_and_device_has_a_page_and_plots(published: Path) -> None:
    pages = sorted(str(p.relative_to(published)) for p in published.rglob("*.html"))
    assert len(pages) == 1 + 2 + (5 + 4) + 2  # index, runs, jobs, devices
    index = (published / "index.html").read_text()
    assert index.index("20261121") < index.index("20261120")  # newest first
    run_pages = sorted(published.glob("runs/*/index.html"))
    host = next(p for p in run_pages if "local" in p.parent.name).read_text()
    assert host.count('<tr class="') == len(VARIANTS) + 1  # one row per variant, the failed one too
    assert "corrupt model" in host
    failed_page = next(published.glob("runs/*local*/jobs/*fp16*.html")).read_text()
    assert "ERROR: Could not open &lt;script&gt;" in failed_page and HOSTILE not in failed_page  # kept, escaped
    local_run = next(p for p in run_pages if "local" in p.parent.name).parent
    phone_run = next(p for p in run_pages if "android" in p.parent.name).parent
    for plot in ("latency", "accuracy", "memory", "resolution"):
        assert (local_run / f"model1-{plot}.svg").stat().st_size > 1000
    # the phone's tool printed summaries only: a summary plot, no per-run distribution
    assert (phone_run / "model1-summary.svg").is_file() and not (phone_run / "model1-latency.svg").exists()
    assert (phone_run / "model1-memory.svg").is_file() and (phone_run / "model1-resolution.svg").is_file()


def test_what_came_from_a_device_is_text_not_markup(published: Path) -> None:
    for page in published.rglob("*.html"):
        text = page.read_text()
        assert HOSTILE not in text, page
    job = next(published.glob("runs/*android*/jobs/*.html")).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in job


def test_the_job_page_says_what_each_number_means(published: Path) -> None:
    job = next(published.glob("runs/*local*/jobs/*int8*.html")).read_text()
    for quantity in ("init", "first inference", "peak memory", "p50 95% CI", "top-1 agreement with fp32",
                     "mapped model file", "captured at"):
        assert quantity in job


def test_publishing_again_gives_the_same_bytes(tmp_path: Path, published: Path) -> None:
    before = _tree(published)
    with Store(tmp_path / "s.sqlite") as store:
        publish(store, published)
    assert _tree(published) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_a_failed_render_leaves_the_old_site_whole(tmp_path: Path, published: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree(published)

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(site.plots, "memory", broken)
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(RuntimeError):
        publish(store, published)
    assert _tree(published) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_folder_that_is_not_a_site_is_never_replaced(tmp_path: Path) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with make_store(tmp_path / "s.sqlite") as store, pytest.raises(ConfigError, match="not a bench site"):
        publish(store, mine)
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_a_phone_job_page_shows_the_tools_own_memory_lines_and_delegates(tmp_path: Path) -> None:
    from dataclasses import replace

    from bench.results.records import JobResult
    from bench.results.store import RunRecord
    from tests.sitefixtures import _job

    job = _job("android", "int8", 1)
    assert job.raw is not None
    raw = replace(job.raw, tool_memory_init_delta_mb=9.5, tool_memory_overall_delta_mb=31.25,
                  delegates=({"name": "GPU", "status": "partial", "nodes_delegated": 10, "nodes_total": 15,
                              "partitions": 3},))
    with make_store(tmp_path / "s.sqlite") as store:
        record: RunRecord = store.runs()[0]
        stored = JobResult.from_dict(replace(job, raw=raw).to_dict())  # through the store's own form
        site.write_site([site.RunData(record=record, results=[stored])], tmp_path / "site")
    page = next((tmp_path / "site").glob("runs/*/jobs/*.html")).read_text()
    assert "memory delta overall" in page and "31.25" in page and "partial, 10/15 nodes" in page


def test_an_op_profiled_job_page_lists_operator_types_and_the_slowest_operators(tmp_path: Path) -> None:
    from dataclasses import replace

    from bench.devices.android.tool_result import raw_run
    from bench.results.records import JobResult
    from tests.sitefixtures import _job

    output = (Path(__file__).parent / "data" / "tool-outputs" / "benchmark_model-op-profiling-ours.txt").read_text()
    raw = raw_run(output, requested="xnnpack", model_size_bytes=5_262_910, input_shape=(1, 224, 224, 3),
                  tool_sha256="cd" * 32, sampled_vmhwm_mb=40.0)
    assert raw.op_profile is not None and raw.op_profile["nodes"] == 3
    job = JobResult.from_dict(replace(_job("android", "int8", 1), raw=raw).to_dict())
    with make_store(tmp_path / "s.sqlite") as store:
        site.write_site([site.RunData(record=store.runs()[0], results=[job])], tmp_path / "site")
    page = next((tmp_path / "site").glob("runs/*/jobs/*.html")).read_text()
    types = page.split('id="op-types"')[1].split("</table>")[0]
    assert types.index("TfLiteXNNPackDelegate") < types.index("SOFTMAX") < types.index("DEQUANTIZE")
    slowest = page.split('id="op-slowest"')[1].split("</table>")[0]
    assert slowest.index("[stem_conv]:65") < slowest.index("[probs]:67") < slowest.index("[logits_dequant]:66")
