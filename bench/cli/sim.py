"""`bench sim start|stop|list`: simulated Android phones on 127.0.0.1, attached to the adb server."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.devices.android.sim.profiles import profile_names
from bench.errors import DeviceError


def _folder() -> Path:
    from bench.paths import data_dir

    return data_dir() / "sim"


def register(subparsers: Any) -> None:
    sim = subparsers.add_parser("sim", help="simulated Android phones (x86_64, running LiteRT on this host)")
    actions = sim.add_subparsers(dest="sim_action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start phones in the background and `adb connect` them")
    start.add_argument("--count", type=int, default=1)
    start.add_argument("--profile", default="default", choices=profile_names(),
                       help="default: a plain phone; the others serve real phones' captures (needs --captures)")
    start.add_argument("--captures", type=Path, default=None,
                       help="folder of real device dumps (getprop, sysfs, dumpsys) a captured profile serves")
    start.add_argument("--first", type=int, default=1, help="number the phones from here (sim3, sim4, ... on a "
                       "second lab host)")
    start.set_defaults(handler=_start)
    actions.add_parser("stop", help="stop them and disconnect them from adb").set_defaults(handler=_stop)
    listing = actions.add_parser("list", help="the running simulated phones")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)


def _state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((_folder() / "state.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None  # left behind by a process that is gone
    return state


def _start(args: argparse.Namespace) -> int:
    if _state() is not None:
        raise DeviceError("simulated phones are already running; see them with: python -m bench sim list")
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "bench.devices.android.sim.serve", "--folder", str(folder),
                                "--count", str(args.count), "--profile", args.profile, "--first", str(args.first),
                                *(["--captures", str(args.captures.resolve())] if args.captures else [])],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeviceError(f"the simulated phones did not start; see {folder / 'serve.log'}")
        if (state := _state()) is not None:
            for phone in state["phones"]:
                served = "x86_64" if state.get("profile", "default") == "default" else \
                    f"{state['profile']}'s captures, its tools on this x86_64 host"
                print(f"{phone['alias']}: {phone['serial']} (simulated, {served})")
            print(f"measure one with: python -m bench run --device {state['phones'][0]['alias']}")
            print(f"score accuracy with their run_eval: add --imagenet DIR --run-eval {state['run_eval']}")
            return 0
        time.sleep(0.2)
    process.kill()
    raise DeviceError(f"the simulated phones did not come up in 60 s; see {folder / 'serve.log'}")


def _stop(args: argparse.Namespace) -> int:
    state = _state()
    if state is None:
        print("no simulated phones are running")
        return 0
    os.kill(int(state["pid"]), signal.SIGTERM)
    for _ in range(100):
        if _state() is None:
            break
        time.sleep(0.1)
    print(f"stopped {len(state['phones'])} simulated phone(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    state = _state()
    phones = state["phones"] if state else []
    if args.json:
        print(json.dumps(phones, indent=2))
        return 0
    if not phones:
        print("no simulated phones are running; start some with: python -m bench sim start --count 2")
    for phone in phones:
        print(f"{phone['alias']}: {phone['serial']}  sandbox {phone['root']}")
    return 0
