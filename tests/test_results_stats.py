"""Statistics against answers computed by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.results.stats import bootstrap_median_ci, instability_warnings, latency_stats


def test_hand_computed_summary() -> None:
    s = latency_stats([10.0, 20.0, 30.0, 40.0, 50.0])
    assert (s.count, s.mean, s.min, s.max, s.p50) == (5, 30.0, 10.0, 50.0, 30.0)
    assert s.std == pytest.approx(15.811388, rel=1e-6)  # sample variance (400+100+0+100+400)/4 = 250
    assert s.p90 == pytest.approx(46.0)  # linear: 40 + 0.6 * 10
    assert s.p99 == pytest.approx(49.6)
    assert s.cv == pytest.approx(15.811388 / 30.0, rel=1e-6)
    assert s.fps == pytest.approx(1000.0 / 30.0)


def test_single_run() -> None:
    s = latency_stats([7.5])
    assert (s.std, s.ci95_p50, s.p99) == (0.0, (7.5, 7.5), 7.5)


def test_bootstrap_is_seeded_and_brackets_the_median() -> None:
    values = [10.0 + 0.1 * (i % 7) for i in range(60)]
    low, high = bootstrap_median_ci(values)
    assert (low, high) == bootstrap_median_ci(values)
    assert low <= latency_stats(values).p50 <= high


@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=200))
def test_order_and_bounds_hold_for_any_latencies(values: list[float]) -> None:
    s = latency_stats(values)
    assert s.min <= s.p50 <= s.p90 <= s.p99 <= s.max
    assert s.ci95_p50[0] <= s.ci95_p50[1]
    assert s.min <= s.mean * (1 + 1e-9) and s.mean <= s.max * (1 + 1e-9)


def test_stable_run_has_no_warnings() -> None:
    assert instability_warnings([10.0, 10.1, 9.9, 10.0] * 10) == []


def test_each_warning_says_why() -> None:
    few = instability_warnings([10.0, 10.0, 10.0])
    assert len(few) == 1 and "only 3 timed runs" in few[0]
    noisy = instability_warnings([10.0, 14.0] * 20)
    assert any("coefficient of variation" in w for w in noisy)
    drifting = instability_warnings([10.0] * 20 + [11.0] * 20)
    assert any("slower than the first half" in w and "throttling" in w for w in drifting)


def test_a_tools_summary_gives_what_it_printed_and_nothing_more() -> None:
    from dataclasses import replace

    from bench.results.stats import ToolSummary, summarize

    summary = ToolSummary(count=50, mean_ms=119.375, std_ms=1.948, min_ms=113.737, max_ms=124.776, first_ms=119.212)
    stats, warnings = summarize((), summary)
    assert stats.from_summary and stats.count == 50 and stats.mean == 119.375
    assert stats.p50 is None and stats.p90 is None and stats.ci95_p50 is None  # never invented from a mean
    assert stats.fps == pytest.approx(1000 / 119.375) and stats.cv == pytest.approx(1.948 / 119.375)
    assert warnings == []
    stats, warnings = summarize((), replace(summary, median_ms=118.0, std_ms=30.0, count=5))
    assert stats.p50 == 118.0
    assert len(warnings) == 2  # too few runs, spread above 10%
    assert summarize([10.0, 11.0], summary)[0].from_summary is False  # every run wins over a summary
    with pytest.raises(ValueError):
        summarize((), None)


def test_stats_round_trip_through_dicts_including_summary_ones() -> None:
    from bench.results.stats import LatencyStats, ToolSummary, summary_stats

    summary = ToolSummary(count=3, mean_ms=11.0, std_ms=1.0)
    for stats in (latency_stats([10.0, 12.0, 11.0]), summary_stats(summary)):
        assert LatencyStats.from_dict(stats.to_dict()) == stats
    assert ToolSummary.from_dict(summary.to_dict()) == summary


def test_a_summary_is_stored_under_the_tools_own_names() -> None:
    from bench.results.stats import ToolSummary

    stored = {"count": 80, "avg": 12.0, "std": 0.3, "min": 11.5, "max": 13.1, "median": 11.95, "warmup_count": 1,
              "warmup_avg": 15.2}
    summary = ToolSummary.from_dict(stored)
    assert summary == ToolSummary(count=80, mean_ms=12.0, std_ms=0.3, min_ms=11.5, max_ms=13.1, median_ms=11.95,
                                  warmup_count=1, warmup_mean_ms=15.2)
    assert summary.to_dict() == stored  # what is not printed is not stored
