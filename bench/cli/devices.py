"""`bench devices`: this host, the inventory's aliases, and every phone the adb server sees."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli.common import print_json


def register(subparsers: Any) -> None:
    devices = subparsers.add_parser("devices", help="list the host, inventory aliases and attached phones")
    devices.add_argument("--json", action="store_true")
    devices.set_defaults(handler=_devices)


def _devices(args: argparse.Namespace) -> int:
    from bench.devices.select import list_devices

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
