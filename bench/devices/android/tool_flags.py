"""Flags a phone's tool did not take.

benchmark_model and run_eval parse their flags with TFLite's `Flags::Parse`, which leaves flags it
does not know in argv; the tool then logs `Unconsumed cmdline flags: --a=1 --b` and goes on
(LiteRT tflite/tools/benchmark/benchmark_model.cc, tools/evaluation/tasks/task_executor.cc), so an
old tool ignores what bench relies on and still exits 0. Each such flag is an error here.
"""

from __future__ import annotations

import re

from bench.errors import ToolFailedError

_UNCONSUMED = re.compile(r"Unconsumed cmdline flags:\s*(.*\S)")
# the release whose tool first took a flag, where it is known
FLAG_SINCE = {"output_filepath": "TensorFlow 2.10"}


def unconsumed_flags(output: str) -> list[str]:
    """The names of the flags the tool said it did not take (`--graph test` -> ["graph"])."""
    names: list[str] = []
    for match in _UNCONSUMED.finditer(output):
        for token in match.group(1).split():
            if token.startswith("-"):
                names.append(token.lstrip("-").split("=", 1)[0])
    return names


FIX = {"benchmark_model": "use a newer build (python -m bench tools fetch) or give one with --benchmark-model",
       "run_eval": "give a newer build with --run-eval"}


def check_flags_taken(output: str, passed: set[str], tool: str = "benchmark_model") -> None:
    """Raise when the tool did not take a flag bench passed (and relies on)."""
    ignored = [name for name in unconsumed_flags(output) if name in passed]
    if not ignored:
        return
    name = ignored[0]
    since = f" (it needs {FLAG_SINCE[name]} or newer)" if name in FLAG_SINCE else ""
    raise ToolFailedError(f"this {tool} does not know --{name}{since} and ignored it; {FIX[tool]}")
