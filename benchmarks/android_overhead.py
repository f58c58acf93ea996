"""Orchestration overhead per job on a simulated phone, and bytes pushed by a second run.

    BENCH_CACHE=... python benchmarks/android_overhead.py [--variants fp32,int8,pruned50,res160] [--runs 3]

Starts a simulated phone on a private adb server and runs `bench run --device sim1` on already-built
variants: once to push them and probe the phone, then `--runs` more times measured. Per job, bench's
orchestration is the job's wall time (one job stored to the next) minus the tool's own time. Two
readings of "the tool's own time" are given:

- the tool's process, launch to exit as bench saw it: what a real phone's benchmark_model takes.
  On a simulated phone this also holds the stand-in's Python start (~0.3 s) that a real binary
  does not have, so this is the figure for bench's own work (target: under 0.5 s per job);
- what the tool reports (init + warm-up + timed runs): the stand-in's start then counts as overhead.

Also the run's fixed cost (the process start, imports, the phone's preflight and probe, planning,
finding the built variants) before its first job, and the bytes a second run pushes (none).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.devices.android.sim.lab import adb_binary, free_port


def _measured_run(variants: str) -> dict[str, Any]:
    """One run in this process: per job, its wall time and its tool's launch-to-exit time."""
    import bench.devices.android.backend as backend
    from bench.config import load_config, with_overrides
    from bench.paths import cache_dir, data_dir
    from bench.results.store import Store
    from bench.run.stages import execute_run

    launches: list[float] = []
    real_run_tool = backend.run_tool

    def timed_run_tool(*args: Any, **kwargs: Any) -> Any:
        run = real_run_tool(*args, **kwargs)
        launches.append(run.wall_s)
        return run

    pushed: list[int] = []

    class Pushes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if match := re.search(r": pushed (\d+) bytes for ", record.getMessage()):
                pushed.append(int(match.group(1)))

    logging.getLogger("bench").addHandler(Pushes())
    logging.getLogger("bench").setLevel(logging.INFO)
    backend.run_tool = timed_run_tool  # type: ignore[assignment]
    marks: list[float] = []
    config = with_overrides(load_config(None), variants=variants.split(","), threads=[1])
    started = time.monotonic()
    with Store(data_dir() / "results.sqlite") as store:
        outcome = execute_run(config, store, cache_dir(), device_alias="sim1",
                              hooks=None, on_job=lambda *_: marks.append(time.monotonic()))
    backend.run_tool = real_run_tool  # type: ignore[assignment]
    first_job_started = marks[0] - (marks[1] - marks[0]) if len(marks) > 1 else started
    intervals = [b - a for a, b in zip([first_job_started, *marks[:-1]], marks, strict=True)][1:]
    reported = []
    for result in outcome.results[1:]:
        raw, summary = result.raw, result.raw.summary if result.raw else None
        assert raw is not None and summary is not None
        reported.append(((raw.init_ms or 0.0) + (summary.warmup_mean_ms or 0.0) * (summary.warmup_count or 0)
                         + summary.mean_ms * summary.count) / 1000.0)
    return {"beyond_launch": [i - t for i, t in zip(intervals, launches[1:], strict=True)],
            "beyond_reported": [i - t for i, t in zip(intervals, reported, strict=True)],
            "launch_minus_reported": [t - r for t, r in zip(launches[1:], reported, strict=True)],
            "pushed": sum(pushed), "jobs": len(outcome.results)}


def _stand_in_start_s(port: int) -> float:
    """How long the simulated phone's benchmark_model (Python and LiteRT's import) takes to start and exit,
    beyond an empty shell command: the part of its launch-to-exit that a real binary does not have."""
    from bench.devices.android import adb

    client = adb.client(port=port)
    dev = adb.device(client, adb.attached(client)[0].serial)

    def timed(command: str) -> float:
        times = []
        for _ in range(5):
            start = time.monotonic()
            adb.shell(dev, command)
            times.append(time.monotonic() - start)
        return statistics.median(times)

    return timed("/data/local/tmp/bench/benchmark_model --graph=/nonexistent") - timed("true")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="fp32,int8,pruned50,res160")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(repr(_measured_run(args.variants)))
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-android-overhead-") as folder:
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "BENCH_DATA": folder}
        bench = [sys.executable, "-m", "bench"]
        subprocess.run([*bench, "sim", "start", "--count", "1"], env=env, check=True, capture_output=True)
        try:
            command = [*bench, "run", "--device", "sim1", "--variants", args.variants, "--threads", "1", "--json"]
            first = subprocess.run(command, env=env, capture_output=True, text=True)  # pushes, probes the phone
            first_pushed = sum(int(n) for n in re.findall(r": pushed (\d+) bytes for ", first.stderr))
            start = time.monotonic()
            second = subprocess.run(command, env=env, capture_output=True, text=True)
            assert second.returncode in (0, 2), second.stderr  # 2: measured, flagged unstable (a busy host)
            process_wall = time.monotonic() - start
            runs = []
            for _ in range(args.runs):  # each in a fresh process, as `bench run` is
                done = subprocess.run([sys.executable, str(Path(__file__)), "--in-process", "--variants",
                                       args.variants], env=env, capture_output=True, text=True, check=True)
                runs.append(eval(done.stdout.strip().splitlines()[-1]))  # our own repr
            stand_in_start = _stand_in_start_s(port)
        finally:
            subprocess.run([*bench, "sim", "stop"], env=env, capture_output=True)
            subprocess.run([adb_binary(), "-P", str(port), "kill-server"], capture_output=True)

    def median(key: str) -> str:
        values = [v for run in runs for v in run[key]]
        return f"{statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, {len(values)} jobs)"

    print(f"orchestration per job beyond the tool's launch-to-exit: {median('beyond_launch')}")
    print(f"per job beyond the tool's reported times:              {median('beyond_reported')}")
    print(f"  of which the simulated tool's own start and exit:    {median('launch_minus_reported')}")
    print(f"  the stand-in alone, started and failing at once:   {stand_in_start:.3f} s beyond a shell's `true`")
    print(f"a whole `bench run` of {runs[0]['jobs']} jobs: {process_wall:.2f} s of process wall")
    print(f"bytes pushed: first run {first_pushed}, later runs {[run['pushed'] for run in runs]}")


if __name__ == "__main__":
    main()
