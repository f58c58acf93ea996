"""`bench devices`: this host, the inventory's aliases, and every phone the adb server sees."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import EXIT_ERROR, EXIT_OK, positive_int, print_json


def register(subparsers: Any) -> None:
    devices = subparsers.add_parser("devices", help="list the host, inventory aliases and attached phones")
    devices.add_argument("action", nargs="?", choices=["clean"],
                         help="clean ALIAS: remove what bench put on the device (/data/local/tmp/bench on a "
                              "phone, the runner's documents on an iPhone); nothing else is touched")
    devices.add_argument("alias", nargs="?", default=None)
    devices.add_argument("--check", metavar="ALIAS", default=None,
                         help="probe what this phone offers bench (tools, pinning, temperatures) and what bench "
                              "does about what it lacks")
    devices.add_argument("--benchmark-model", dest="benchmark_model", default=None, metavar="PATH",
                         help="with --check: the benchmark_model to check (default: the fetched one)")
    devices.add_argument("--run-eval", dest="run_eval", default=None, metavar="PATH",
                         help="with --check: the run_eval to check")
    devices.add_argument("--threads", type=positive_int, default=None, help="with --check: the mask for N threads")
    devices.add_argument("--config", type=Path, default=None, help="bench.toml (default: ./bench.toml if present)")
    devices.add_argument("--json", action="store_true")
    devices.set_defaults(handler=_devices)


def _check(args: argparse.Namespace) -> int:
    from bench.config import load_config, with_overrides
    from bench.run.stages import check_device

    config = with_overrides(load_config(args.config), benchmark_model=args.benchmark_model, run_eval=args.run_eval,
                            threads=[args.threads] if args.threads else None)
    info, caps = check_device(config, args.check)
    if args.json:
        print_json({"device": info.to_dict(), "capabilities": [c.to_dict() for c in caps or ()]})
        return EXIT_OK if caps is not None and not any(c.blocks_run for c in caps) else EXIT_ERROR
    print(f"{args.check}: {info.model}, {info.os or '?'}" + (f", {info.soc}" if info.soc else "")
          + ("  [simulated]" if info.simulated else ""))
    if caps is None:
        print(f"  no capability probe for {info.platform.value} devices; bench devices --check is for Android phones")
        return EXIT_ERROR
    for cap in caps:
        print(f"  {'ok' if cap.ok else 'BLOCKS' if cap.blocks_run else 'missing':<8} {cap.line}")
    missing, blocking = sum(not c.ok for c in caps), any(c.blocks_run for c in caps)
    if blocking:
        print("this phone cannot run bench until what BLOCKS is fixed")
    elif missing:
        print(f"{missing} missing: bench runs and does as each line says")
    else:
        print("everything bench uses is there")
    return EXIT_ERROR if blocking else EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    from bench.config import load_config
    from bench.errors import ConfigError
    from bench.run.stages import clean_device

    if not args.alias:
        raise ConfigError("name the device to clean: python -m bench devices clean ALIAS (list them with: "
                          "python -m bench devices)")
    info = clean_device(load_config(args.config), args.alias)
    where = {"android": "/data/local/tmp/bench", "ios": "BenchRunner's Documents/models, inputs and results",
             "local": "nothing: the host runs models from bench's cache"}[info.platform.value]
    print(f"{args.alias} ({info.model}): removed {where}")
    return EXIT_OK


def _devices(args: argparse.Namespace) -> int:
    from bench.devices.select import list_devices

    if args.check:
        return _check(args)
    if args.action == "clean":
        return _clean(args)

    rows = list_devices()
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        details = ", ".join(f"{k} {v}" for k, v in (("battery %", row.get("battery_percent")),
                                                      ("temp °C", row.get("temperature_c"))) if v is not None)
        alias = row["alias"] or "-"
        print(f"{alias:<12} {row['platform']:<8} {row['serial'] or '-':<24} {row['state']:<13} {row['model'] or ''}"
              + (f"  ({details})" if details else "") + ("  [simulated]" if row.get("simulated") else ""))
    return 0
