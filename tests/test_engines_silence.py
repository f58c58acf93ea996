"""How long benchmark_model may stay silent, read from real output line by line as it arrives."""

from __future__ import annotations

import pytest

from bench.engines.silence import RUN_MARGIN_S, SilenceWatch
from tests.conftest import SHARED


def _capture(folder: str, name: str) -> str:
    path = SHARED / folder / name
    if not path.is_file():
        pytest.skip(f"needs ../shared/{folder}/{name} (real benchmark_model output), absent here")
    return path.read_text()


def _allowed_after(text: str, watch: SilenceWatch) -> dict[str, float]:
    """What the watch allows after each line (keyed by the line's start), fed as it came."""
    allowed = {}
    for line in text.splitlines(keepends=True):
        watch.heard(line)
        allowed[line.strip()[:60]] = watch.allowed_s
    return allowed


def test_before_any_line_and_while_loading_the_load_margin_holds() -> None:
    watch = SilenceWatch(load_margin_s=60.0)
    assert watch.allowed_s == 60.0 and "loading" in watch.why
    assert watch.heard("INFO: Loaded model /data/local/tmp/bench/models/x.tflite\n")
    assert watch.allowed_s == 60.0


def test_the_current_format_bounds_the_warm_up_and_the_timed_runs() -> None:
    text = _capture("tool-outputs", "benchmark_model-info-percentiles-cpu.txt")
    allowed = _allowed_after(text, SilenceWatch(load_margin_s=60.0))
    warm_up = next(v for k, v in allowed.items() if "at least 1 iterations" in k)
    timed = next(v for k, v in allowed.items() if "at least 50 iterations" in k)
    assert warm_up == RUN_MARGIN_S + 60.0  # its first inference within the load margin
    # the warm-up's one run took 1357.602 ms (count=1 curr=...): 50 runs take 67.9 s, twice over is 135.8 s
    assert timed == pytest.approx(RUN_MARGIN_S + 2 * 50 * 1.357602)


def test_a_slow_model_is_bounded_by_the_loops_own_cap() -> None:
    text = _capture("tool-outputs", "benchmark_model-single-warmup-scientific.txt")
    allowed = _allowed_after(text, SilenceWatch(load_margin_s=60.0))
    timed = next(v for k, v in allowed.items() if "at least 50 iterations" in k)
    assert timed == RUN_MARGIN_S + 150.0  # 50 x 3.5 s would pass the tool's "terminate if exceeding 150 seconds"


def test_an_old_release_without_a_cap_reads_the_average_of_its_warm_up() -> None:
    text = _capture("device-dumps", "benchmark_model-tf1x-param-list-no-libneuralnetworks.txt")
    first_launch = text[:text.index("count=15")]
    watch = SilenceWatch(load_margin_s=20.0)
    allowed = _allowed_after(first_launch, watch)
    assert watch.per_run_s == pytest.approx(0.0766059)  # avg=76605.9 us, not curr=66709
    timed = next(v for k, v in allowed.items() if "at least 10 iterations" in k)
    assert timed == pytest.approx(RUN_MARGIN_S + 2 * 1.0)  # 10 x 77 ms is less than its 1 s minimum


def test_lines_split_anywhere_read_the_same_and_benchs_own_lines_are_not_the_tools() -> None:
    text = ("INFO: Initialized session in 4.2ms.\n"
            "INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding "
            "150 seconds.\nINFO: count=4 first=30000 curr=20000 min=20000 max=30000 avg=22500 std=4330\n"
            "INFO: Running benchmark for at least 400 iterations and at least 1 seconds but terminate if exceeding "
            "150 seconds.\n")
    whole, split = SilenceWatch(load_margin_s=30.0), SilenceWatch(load_margin_s=30.0)
    whole.heard(text)
    for i in range(0, len(text), 7):
        split.heard(text[i:i + 7])
    assert whole.allowed_s == split.allowed_s == pytest.approx(RUN_MARGIN_S + 2 * 400 * 0.0225)
    assert split.last_line.startswith("INFO: Running benchmark for at least 400")
    assert not split.heard("@@mem VmHWM: 51234 kB\n")  # the phone-side memory loop is not the tool speaking
    assert split.last_line.startswith("INFO: Running benchmark for at least 400")


def test_a_fixed_run_frequency_stretches_the_timed_runs() -> None:
    watch = SilenceWatch(load_margin_s=30.0, run_frequency_hz=5.0)
    watch.heard("count=1 curr=10000\n")
    watch.heard("Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding "
                "150 seconds.\n")
    assert watch.allowed_s == pytest.approx(RUN_MARGIN_S + 2 * 10.0)  # 50 runs at 5 per second: 10 s


def test_after_the_timed_runs_only_the_run_margin_is_left() -> None:
    watch = SilenceWatch(load_margin_s=60.0)
    for line in ("count=1 curr=10000", "Running benchmark for at least 50 iterations and at least 1 seconds",
                 "count=50 first=10000 curr=10000 min=9000 max=11000 avg=10000 std=100"):
        watch.heard(line + "\n")
    assert watch.allowed_s == RUN_MARGIN_S and watch.why == "after its last line"
