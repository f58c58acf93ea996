"""Regression verdicts: significant and beyond the series' own noise, or not at all."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.results.regress import (
    FLOOR,
    NightLatency,
    accuracy_verdict,
    latency_verdict,
    memory_verdict,
    noise_threshold,
    step_verdict,
    steps,
)


def _night(level: float, seed: int, runs: int = 60, spread: float = 0.03) -> NightLatency:
    values = np.random.default_rng(seed).normal(level, spread * level, runs)
    return NightLatency(run_id=f"n{seed}", latencies_ms=tuple(float(v) for v in values))


BASELINE = [_night(10.0, seed) for seed in range(5)]


def test_a_slower_night_is_a_regression_and_a_faster_one_an_improvement() -> None:
    slower = latency_verdict(_night(11.2, 99), BASELINE)
    assert slower.regression and slower.change is not None and 0.09 < slower.change < 0.15
    assert slower.p_value is not None and slower.p_value < 1e-6 and "Mann-Whitney" in (slower.test or "")
    faster = latency_verdict(_night(8.5, 98), BASELINE)
    assert faster.status == "improvement"


def test_a_change_within_the_floor_is_not_a_regression_even_when_significant() -> None:
    verdict = latency_verdict(_night(10.3, 97, runs=2000, spread=0.01), BASELINE)
    assert verdict.status == "unchanged" and verdict.p_value is not None and verdict.p_value < 0.01


def test_a_noisy_series_needs_a_bigger_change() -> None:
    noisy = [_night(level, seed) for seed, level in enumerate((10.0, 10.9, 9.4, 10.6, 9.2, 10.2))]
    assert noise_threshold(noisy) > 0.10
    assert latency_verdict(_night(10.9, 96), noisy).status == "unchanged"
    assert latency_verdict(_night(13.0, 95), noisy).regression


def test_summaries_alone_use_welchs_test() -> None:
    baseline = [NightLatency(run_id=f"s{i}", count=50, mean_ms=10.0 + 0.05 * i, std_ms=0.4) for i in range(4)]
    verdict = latency_verdict(NightLatency(run_id="s", count=50, mean_ms=11.5, std_ms=0.4), baseline)
    assert verdict.regression and "Welch" in (verdict.test or "")
    same = latency_verdict(NightLatency(run_id="s", count=50, mean_ms=10.1, std_ms=0.4), baseline)
    assert same.status == "unchanged"


def test_one_earlier_night_is_not_a_baseline() -> None:
    assert latency_verdict(_night(20.0, 1), BASELINE[:1]).status == "insufficient history"


def test_steps_in_a_long_series() -> None:
    assert steps([10.0] * 6 + [11.5] * 6) == [6]
    assert steps([10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.2, 9.9]) == []
    assert steps([10.0] * 5 + [12.0] * 5 + [10.0] * 5) == [5, 10]


def _summary(mean_ms: float, i: int, std_ms: float = 0.3, count: int = 50) -> NightLatency:
    return NightLatency(run_id=f"r{i}", count=count, mean_ms=mean_ms, std_ms=std_ms)


def test_a_step_the_nightly_test_missed_is_a_regression_once_confirmed() -> None:
    steady = [_summary(10.0, i) for i in range(6)]
    # after the shift the tool's runs were few and noisy: no single night was significantly slower
    shifted = [_summary(11.0, 6 + i, std_ms=5.0, count=5) for i in range(3)]
    assert not any(latency_verdict(n, (steady + shifted)[:6 + i][-7:]).regression for i, n in enumerate(shifted))
    step = step_verdict(steady + shifted, window=7)
    assert step is not None and step.regression and step.change is not None and 0.09 < step.change < 0.11
    assert "run r6" in step.evidence
    later = step_verdict([*steady, *shifted, _summary(11.0, 9, std_ms=5.0, count=5)], window=7)
    assert later is not None and later.status == "step"  # told once, then shown as the series' history


def test_a_step_caught_on_its_first_night_is_not_told_again() -> None:
    series = [_night(10.0, i) for i in range(6)] + [_night(12.0, 10 + i) for i in range(3)]
    assert latency_verdict(series[6], series[:6]).regression
    step = step_verdict(series, window=7)
    assert step is not None and step.status == "step" and "run n10" in step.evidence
    assert step_verdict([_night(10.0, i) for i in range(9)], window=7) is None


def test_accuracy_drops_are_counted_on_the_same_images() -> None:
    base = [True] * 180 + [False] * 20
    night = [False] * 20 + [True] * 160 + [True] * 2 + [False] * 18  # 20 lost, 2 gained
    verdict = accuracy_verdict(night, base)
    assert verdict.regression and verdict.change is not None and round(verdict.change, 1) == -9.0
    few = [False] * 3 + [True] * 177 + [True] * 2 + [False] * 18  # 3 lost, 2 gained: noise
    assert accuracy_verdict(few, base).status == "unchanged"
    assert accuracy_verdict(night[:10], base).status == "insufficient history"


def test_memory_growth_past_ten_percent() -> None:
    assert memory_verdict(95.0, [80.0, 81.0, 79.5]).regression
    assert memory_verdict(84.0, [80.0, 81.0, 79.5]).status == "unchanged"


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=0.96, max_value=1.0 + FLOOR * 0.9), st.integers(0, 1000))
def test_a_shift_within_the_floor_is_never_a_regression(factor: float, seed: int) -> None:
    night = _night(10.0 * factor, seed + 10, runs=200)
    assert not latency_verdict(night, BASELINE).regression
