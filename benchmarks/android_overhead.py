"""Orchestration overhead per job on a simulated phone, and bytes pushed by a second run.

    BENCH_CACHE=... python benchmarks/android_overhead.py [--variants fp32,int8,pruned50,res160]

Starts two simulated phones on a private adb server, runs `bench run --device sim1` twice on
already-built variants, and reports, per job of the second run, the harness's time beyond the
tool's own (init + warm-up + timed runs as benchmark_model reports them): snapshots, the
sha256 check, the launch, streaming, parsing and storing. Target: under 1 s per job. Also the
bytes pushed by each run (the second should move nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from bench.devices.android.sim.lab import adb_binary, free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="fp32,int8,pruned50,res160")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-android-overhead-") as folder:
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "BENCH_DATA": folder}
        bench = [sys.executable, "-m", "bench"]
        subprocess.run([*bench, "sim", "start", "--count", "2"], env=env, check=True, capture_output=True)
        try:
            command = [*bench, "run", "--device", "sim1", "--variants", args.variants, "--threads", "1",
                       "--json"]
            walls, pushed = [], []
            for _ in range(2):
                start = time.monotonic()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                walls.append(time.monotonic() - start)
                pushed.append(sum(int(n) for n in re.findall(r": pushed (\d+) bytes for ", done.stderr)))
            run = json.loads(done.stdout)
            export = json.loads(subprocess.run([*bench, "export", run["run_id"]], env=env, capture_output=True,
                                               text=True, check=True).stdout)
        finally:
            subprocess.run([*bench, "sim", "stop"], env=env, capture_output=True)
            subprocess.run([adb_binary(), "-P", str(port), "kill-server"], capture_output=True)
    tool_s = 0.0
    for result in export["results"]:
        raw = result["raw"]
        summary = raw["summary_ms"]
        tool_s += (raw["init_ms"] + summary.get("warmup_count", 0) * summary.get("warmup_avg", 0.0)
                   + summary["count"] * summary["avg"]) / 1000.0
    jobs = len(export["results"])
    print(f"jobs {jobs}; second run wall {walls[1]:.2f} s, the tool's own time {tool_s:.2f} s; "
          f"overhead {(walls[1] - tool_s) / jobs:.2f} s per job (target < 1 s; includes the bench process start)")
    print(f"bytes pushed: first run {pushed[0]}, second run {pushed[1]}")


if __name__ == "__main__":
    main()
