"""benchmark_model's loop, declared once: its defaults, its flags, the watchdog's budget."""

from __future__ import annotations

import argparse

from bench.config import RunConfig
from bench.engines.loop import LoopSettings, add_loop_flags, loop_from_flags


def test_the_defaults_are_benchmark_models_own() -> None:
    # tensorflow/lite/tools/benchmark/benchmark_model.cc, BenchmarkModel::DefaultParams
    assert LoopSettings() == LoopSettings(num_runs=50, min_secs=1.0, max_secs=150.0, warmup_runs=1,
                                          warmup_min_secs=0.5, run_frequency_hz=0.0)
    assert RunConfig().loop == LoopSettings()


def test_flags_as_the_tool_spells_them() -> None:
    loop = LoopSettings(num_runs=20, min_secs=0.5)
    assert loop.to_flags() == {"num_runs": "20", "warmup_runs": "1", "min_secs": "0.5", "max_secs": "150.0",
                               "warmup_min_secs": "0.5"}
    assert LoopSettings(run_frequency_hz=30.0).to_flags()["run_frequency"] == "30"
    assert LoopSettings().to_arguments(dashed=True)[:2] == ["--num-runs", "50"]  # BenchRunner's spelling


def test_a_runner_reads_back_what_it_was_given() -> None:
    parser = argparse.ArgumentParser()
    add_loop_flags(parser)
    assert loop_from_flags(parser.parse_args([])) == LoopSettings()
    given = LoopSettings(num_runs=7, min_secs=2.0, max_secs=9.0, warmup_runs=0, warmup_min_secs=0.0,
                         run_frequency_hz=15.0)
    assert loop_from_flags(parser.parse_args(given.to_arguments())) == given


def test_the_watchdog_allows_the_warm_up_and_the_timed_runs_each_their_max() -> None:
    assert LoopSettings(max_secs=10.0).watchdog_s(60.0) == 80.0
    assert LoopSettings().for_seconds(5.0) == LoopSettings(num_runs=1, min_secs=5.0, max_secs=5.0)
