"""benchmark_model's loop: warm-up runs, then timed runs, and the flags that set them. Declared once here.

Every runner bench drives follows the same loop (tensorflow/lite/tools/benchmark/benchmark_model.cc,
`BenchmarkModel::DefaultParams`: num_runs 50, min_secs 1.0, max_secs 150.0, warmup_runs 1,
warmup_min_secs 0.5, run_frequency -1 = back to back):

- warm-up: at least `warmup_runs` runs and at least `warmup_min_secs` seconds, never past `max_secs`;
- timed: until both `num_runs` runs and `min_secs` seconds are reached, never past `max_secs`;
- with `run_frequency` > 0, timed runs start on that fixed schedule (catching up when late).

The phone's benchmark_model, the host runner and the simulated benchmark_model take the same snake_case
flags (`--num_runs=50`); BenchRunner on an iPhone takes them dashed (`--num-runs 50`) and has no
fixed rate. `bench.toml`'s [run] keys and the `bench run` options are the same names.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

# the flags' names as benchmark_model spells them, in the order bench passes them
_FLAGS = {"num_runs": "num_runs", "warmup_runs": "warmup_runs", "min_secs": "min_secs", "max_secs": "max_secs",
          "warmup_min_secs": "warmup_min_secs", "run_frequency_hz": "run_frequency"}
_HELP = {"num_runs": "timed runs, at least", "min_secs": "seconds of timed runs, at least",
         "max_secs": "never more seconds than this, for the warm-up and the timed runs each",
         "warmup_runs": "warm-up runs, at least", "warmup_min_secs": "seconds of warm-up, at least",
         "run_frequency_hz": "timed runs per second on a fixed schedule; 0: back to back"}


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopSettings:
    """How long a runner warms up and times a model; the defaults are benchmark_model's own."""

    num_runs: int = 50
    min_secs: float = 1.0
    max_secs: float = 150.0
    warmup_runs: int = 1
    warmup_min_secs: float = 0.5
    run_frequency_hz: float = 0.0  # 0: back to back

    def to_flags(self) -> dict[str, str]:
        """benchmark_model's flags, name -> value (`run_frequency` only when set)."""
        flags = {flag: str(getattr(self, name)) for name, flag in _FLAGS.items() if name != "run_frequency_hz"}
        if self.run_frequency_hz > 0:
            flags["run_frequency"] = f"{self.run_frequency_hz:g}"
        return flags

    def to_arguments(self, dashed: bool = False) -> list[str]:
        """The flags as a command line: `--num_runs 50 ...`, or `--num-runs 50 ...` for BenchRunner."""
        out = []
        for flag, value in self.to_flags().items():
            out += ["--" + (flag.replace("_", "-") if dashed else flag), value]
        return out

    def for_seconds(self, seconds: float) -> LoopSettings:
        """Timed runs for `seconds` exactly (one window of a sustained job, a group run together)."""
        return LoopSettings(num_runs=1, min_secs=seconds, max_secs=seconds, warmup_runs=self.warmup_runs,
                            warmup_min_secs=self.warmup_min_secs, run_frequency_hz=self.run_frequency_hz)

    def watchdog_s(self, margin_s: float) -> float:
        """How long a launch may take before it is called hung: the warm-up and the timed runs may each
        last `max_secs`, plus `margin_s` for loading, delegate compilation and output."""
        return 2 * self.max_secs + margin_s


def loop_until(invoke: Callable[[], object], min_runs: int, min_secs: float, max_secs: float, frequency_hz: float = 0.0,
               starts_s: list[float] | None = None) -> list[float]:
    """Invoke until both minimums are met or `max_secs` passes; return each run's milliseconds.

    With `frequency_hz`, run k starts at k / frequency_hz (benchmark_model's --run_frequency: a run
    that is late starts at once, catching up); `starts_s` receives each run's start since the first.
    """
    times: list[float] = []
    start = time.perf_counter()
    while True:
        if frequency_hz > 0:
            wait = start + len(times) / frequency_hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        before = time.perf_counter()
        invoke()
        after = time.perf_counter()
        times.append((after - before) * 1000.0)
        if starts_s is not None:
            starts_s.append(before - start)
        elapsed = after - start
        if (len(times) >= min_runs and elapsed >= min_secs) or (max_secs > 0 and elapsed >= max_secs):
            return times


def warm_up(invoke: Callable[[], object], loop: LoopSettings) -> list[float]:
    """The warm-up runs' milliseconds."""
    return loop_until(invoke, loop.warmup_runs, loop.warmup_min_secs, loop.max_secs)


def timed_runs(invoke: Callable[[], object], loop: LoopSettings, starts_s: list[float] | None = None) -> list[float]:
    """The timed runs' milliseconds, on the loop's schedule when it has a rate."""
    return loop_until(invoke, loop.num_runs, loop.min_secs, loop.max_secs, loop.run_frequency_hz, starts_s)


def add_loop_flags(parser: argparse.ArgumentParser) -> None:
    """benchmark_model's loop flags, with its defaults, for a runner that imitates or replaces it."""
    defaults = LoopSettings()
    for field in fields(LoopSettings):
        kind = int if field.type in ("int", int) else float
        parser.add_argument(f"--{_FLAGS[field.name]}", dest=field.name, type=kind,
                            default=getattr(defaults, field.name), help=_HELP[field.name])


def loop_from_flags(args: argparse.Namespace) -> LoopSettings:
    """The LoopSettings a runner was started with (flags added by add_loop_flags)."""
    return LoopSettings(**{field.name: getattr(args, field.name) for field in fields(LoopSettings)})


def loop_option_help(name: str) -> str:
    """What a loop setting does and its default, for `bench run --help`."""
    return f"{_HELP[name]} ({getattr(LoopSettings(), name):g})"
