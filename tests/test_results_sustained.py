"""The analysis of a sustained job: per-minute numbers, dropped frames, and when throttling began."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.results.device_records import DeviceState
from bench.results.records import SustainedWindow
from bench.results.sustained import dropped_frames, per_minute, reference_s, replay_latest_frame, throttle_onset


def test_frames_that_arrive_while_the_model_is_busy_are_dropped() -> None:
    # 10 ms budget (100 FPS); 25 ms per inference: frames at 0, 30 (latest at 25 is 20), 50 (latest), ...
    assert replay_latest_frame([5.0] * 10, 100.0) == (10, 10)  # always done before the next frame
    processed, offered = replay_latest_frame([25.0] * 4, 100.0)
    assert processed == 4 and offered == 11  # 100 ms of work: frames 0..10 arrived, 4 were taken
    windows = [SustainedWindow(start_s=0.0, timed_s=0.1, count=4, latencies_ms=(25.0,) * 4)]
    share, method = dropped_frames(windows, 100.0)
    assert share == pytest.approx(1 - 4 / 11) and method and "replay" in method
    assert dropped_frames(windows, 0.0) == (None, None)  # back to back: no frame budget


def test_with_only_a_mean_the_drop_is_the_budget_short_of_it() -> None:
    windows = [SustainedWindow(start_s=0.0, timed_s=10.0, count=250, mean_ms=40.0, std_ms=1.0),
               SustainedWindow(start_s=10.0, timed_s=10.0, count=400, mean_ms=20.0, std_ms=1.0)]
    share, method = dropped_frames(windows, 40.0)  # 25 ms budget: 1 - 25/40 in one window, none in the other
    assert share == pytest.approx((1 - 25 / 40) / 2) and method and "mean" in method


@given(st.lists(st.floats(min_value=0.1, max_value=200.0), min_size=1, max_size=60),
       st.floats(min_value=1.0, max_value=240.0))
def test_a_replay_never_takes_more_frames_than_were_offered(latencies: list[float], rate: float) -> None:
    processed, offered = replay_latest_frame(latencies, rate)
    assert processed == len(latencies) and processed <= offered


def test_per_minute_rows_group_windows_by_their_start() -> None:
    windows = [SustainedWindow(start_s=10.0 * i, timed_s=10.0, count=100, latencies_ms=(float(i + 1),) * 100)
               for i in range(9)]
    rows = per_minute(windows, 0.0)
    assert [r.minute for r in rows] == [0, 1] and [r.windows for r in rows] == [6, 3]
    assert rows[0].fps == pytest.approx(10.0) and rows[1].p50_ms == pytest.approx(8.0)
    summary_only = per_minute([SustainedWindow(start_s=0.0, timed_s=10.0, count=50, mean_ms=4.0)], 0.0)
    assert summary_only[0].p99_ms is None and summary_only[0].mean_ms == 4.0


def _windows(levels: list[float]) -> list[SustainedWindow]:
    return [SustainedWindow(start_s=10.0 * i, timed_s=10.0, count=100, mean_ms=level)
            for i, level in enumerate(levels)]


def test_throttling_is_a_rise_that_stays() -> None:
    steady = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8]  # the first minute
    hot = DeviceState(captured_at="x", temperatures_c={"cpu": 47.5})
    onset, evidence = throttle_onset(_windows([*steady, 10.1, 10.0, 13.0, 13.5, 14.0, 14.2]), [(80.0, hot)])
    assert onset == 80.0 and "47.5 °C" in evidence
    # a single slow window is not throttling
    assert throttle_onset(_windows([*steady, 13.0, 10.0, 10.1, 10.2, 9.9, 10.0]))[0] is None
    # too short to tell
    assert throttle_onset(_windows(steady[:4]))[0] is None
    assert reference_s(120.0) == 30.0 and reference_s(600.0) == 60.0
