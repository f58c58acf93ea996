"""How long `benchmark_model` may print nothing, learned from its own progress lines.

BenchmarkModel::Run (LiteRT tflite/tools/benchmark/benchmark_model.cc) logs one line before each loop
and the loop's statistics after it, and nothing while it runs:

    INFO: Initialized session in 9.933ms.
    INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
    INFO: count=4 first=130565 curr=120829 min=117370 max=130565 avg=122373 std=4930
    INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
    INFO: count=50 first=119212 curr=118055 min=113737 max=124776 avg=119375 std=1948

(older releases end the "Running" line at "seconds", and a single warm-up run prints `count=1
curr=3512391` alone). So each silence has a bound the tool's own settings give:

- before the first "Running" line: loading the model and compiling a delegate, `load_margin_s`;
- the warm-up: its first inference must end within `load_margin_s` (its length is not known yet),
  and it lasts at least its minimum seconds twice over, never past the loop's cap;
- the timed runs: N runs of the warm-up's average (at least S seconds, at N / the run frequency when
  one is set) twice over, never past the cap; after that, printing the results and exiting.

Every bound but the loading one adds `run_margin_s`. A watch that never reads a progress line (another
tool, a per-image loop) keeps the loading bound after every line it hears.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RUNNING = re.compile(rf"Running benchmark for at least (\d+) iterations and at least ({_NUMBER}) seconds"
                      rf"(?: but terminate if exceeding ({_NUMBER}) seconds)?")
_COUNT = re.compile(r"\bcount=\d+\b")
_AVG = re.compile(rf"\bavg=({_NUMBER})")
_CURR = re.compile(rf"\bcurr=({_NUMBER})")
_OURS = re.compile(r"^@@(?:pid|mem) ")  # bench's own lines in the stream (run_tool), not the tool's
RUN_MARGIN_S = 10.0
_LOADING = "loading the model and its delegate, watchdog_margin_s"


@dataclass(slots=True)
class SilenceWatch:
    """How long the tool may stay silent now (`allowed_s`, and `why`); the last line it printed."""

    load_margin_s: float
    run_margin_s: float = RUN_MARGIN_S
    run_frequency_hz: float = 0.0
    allowed_s: float = field(init=False)
    why: str = field(init=False)
    per_run_s: float | None = None  # the warm-up's average inference
    last_line: str = ""
    _pending: str = ""

    def __post_init__(self) -> None:
        self.allowed_s, self.why = self.load_margin_s, _LOADING

    def heard(self, text: str) -> bool:
        """Read newly arrived output; whether any of it was the tool's (bench's own @@ lines are not)."""
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        own = [line.strip() for line in lines if line.strip() and not _OURS.match(line.strip())]
        for line in own:
            self._learn(line)
        return bool(own) or bool(self._pending.strip() and not _OURS.match(self._pending.strip()))

    def _learn(self, line: str) -> None:
        self.last_line = line[:200]
        if match := _RUNNING.search(line):
            runs, at_least_s = int(match.group(1)), float(match.group(2))
            cap_s = float(match.group(3)) if match.group(3) else math.inf
            if self.per_run_s is None:  # the warm-up: nothing timed yet
                bound = min(cap_s, max(self.load_margin_s, 2 * at_least_s))
                self.allowed_s = self.run_margin_s + bound
                self.why = f"the warm-up: its first inference within {self.load_margin_s:g} s, at least " \
                           f"{at_least_s:g} s in all, + {self.run_margin_s:g} s"
            else:
                expected = max(at_least_s, runs * self.per_run_s,
                               runs / self.run_frequency_hz if self.run_frequency_hz > 0 else 0.0)
                self.allowed_s = self.run_margin_s + min(cap_s, 2 * expected)
                self.why = f"{runs} runs of {self.per_run_s * 1000:.1f} ms, at least {at_least_s:g} s, twice over, " \
                           f"+ {self.run_margin_s:g} s"
            return
        if _COUNT.search(line) and self.per_run_s is None:
            average = _AVG.search(line) or _CURR.search(line)
            if average:
                self.per_run_s = float(average.group(1)) / 1e6
        if self.per_run_s is None:
            self.allowed_s, self.why = self.load_margin_s, _LOADING
        else:
            self.allowed_s, self.why = self.run_margin_s, "after its last line"
