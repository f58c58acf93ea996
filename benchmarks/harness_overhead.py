"""Harness overhead of `bench run`: its wall time over the engine's own timed work.

    python benchmarks/harness_overhead.py [--variants fp32,int8,pruned50,res160] [--threads 2]

Runs `python -m bench run --device local --json` on already-built variants (the first call builds
them if needed and is not counted), then again, timed. The engine's own work is, per job, the
runner's init plus every warm-up and timed iteration it reports. Target: ratio at most 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="fp32,int8,pruned50,res160")
    parser.add_argument("--extra", default="", help="more `bench run` flags, space-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as folder:
        store = os.path.join(folder, "s.sqlite")
        command = [sys.executable, "-m", "bench", "run", "--device", "local", "--variants", args.variants,
                   "--store", store, "--json", *args.extra.split()]
        subprocess.run(command, capture_output=True, text=True)  # build or hit the cache first
        start = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True)
        wall_s = time.monotonic() - start
        run = json.loads(done.stdout)
        export = json.loads(subprocess.run([sys.executable, "-m", "bench", "export", run["run_id"], "--store", store],
                                           capture_output=True, text=True, check=True).stdout)
    engine_s = 0.0
    for result in export["results"]:
        raw = result["raw"]
        if raw:
            engine_s += (raw["init_ms"] + sum(raw["warmup_ms"]) + sum(raw["latencies_ms"])) / 1000.0
    print(f"jobs {len(export['results'])}, bench run wall {wall_s:.2f} s, engine timed work {engine_s:.2f} s, "
          f"ratio {wall_s / engine_s:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
