"""The process behind `bench sim start`: simulated phones, attached to the adb server, until stopped.

    python -m bench.devices.android.sim.serve --folder DIR --count 2 [--profile default] [--first 1]
        [--captures DIR]   # the device dumps a captured profile (sd8gen2, tensor, ...) serves

It writes, in DIR: `sims.toml` (an inventory: aliases sim1..simN, their serials, and the tool they
run, so `bench run --device sim1` works), `state.json` (its pid and the phones), `benchmark_model`
(the x86_64 tool: a script running `bench-benchmark-model` with this Python) and the phones'
sandboxes. On SIGTERM it disconnects the phones and removes `sims.toml` and `state.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bench.devices.android.sim.lab import SimLab, adb_binary, start_adb_server


def tool_script(folder: Path, name: str = "benchmark_model",
                module: str = "bench.devices.android.sim.benchmark_model_compat") -> Path:
    script = folder / name
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -m {module} \"$@\"\n")
    script.chmod(0o755)
    return script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.devices.android.sim.serve")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--captures", type=Path, default=None)
    args = parser.parse_args(argv)
    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "5037")
    start_adb_server(int(port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with SimLab(folder / "phones", count=args.count, profile=args.profile, first=args.first,
                captures=args.captures) as lab:
        lab.connect(int(port))
        tool = tool_script(folder)
        evaluator = tool_script(folder, "run_eval", "bench.devices.android.sim.run_eval_compat")
        inventory = "".join(
            f'[[device]]\nalias = "sim{n}"\nplatform = "android"\nserial = "{r.serial}"\n'
            f'tags = ["simulated"]\naccelerators = ["xnnpack", "none", "gpu", "nnapi"]\n'
            f'benchmark_model = "{tool.name}"\n\n'
            for n, r in enumerate(lab.running, start=args.first))
        (folder / "sims.toml").write_text("# written by `bench sim start`; removed by `bench sim stop`\n" + inventory)
        state = {"pid": os.getpid(), "adb_port": int(port), "profile": args.profile, "run_eval": str(evaluator),
                 "phones": [{"alias": f"sim{n}", "serial": r.serial, "root": str(r.phone.root)}
                            for n, r in enumerate(lab.running, start=args.first)]}
        (folder / "state.json").write_text(json.dumps(state, indent=2))
        print(json.dumps(state), flush=True)
        stop.wait()
        for running in lab.running:
            subprocess.run([adb_binary(), "-P", port, "disconnect", running.serial], capture_output=True, timeout=30)
    for name in ("sims.toml", "state.json"):
        (folder / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
