"""`bench lab run --config devices/lab.toml`: the night over every phone, then the verdicts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import print_json
from bench.cli.regress import EXIT_REGRESSION
from bench.cli.run import store_arg


def register(subparsers: Any) -> None:
    lab = subparsers.add_parser("lab", help="the nightly lab: every phone, health, history, regressions")
    sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the lab's matrix on every phone at once")
    run.add_argument("--config", type=Path, default=Path("devices/lab.toml"), help="lab config (devices/lab.toml)")
    run.add_argument("--resume", default=None, metavar="NIGHT", help="finish only what night NIGHT lacks")
    run.add_argument("--no-fail", action="store_true", help="report regressions but do not exit 3")
    run.add_argument("--json", action="store_true")
    store_arg(run)
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from bench.paths import cache_dir, data_dir
    from bench.run.lab import load_lab, run_night

    config, settings, inventory = load_lab(args.config)
    night = run_night(config, settings, inventory, args.store or data_dir() / "results.sqlite", cache_dir(),
                      resume=args.resume)
    if args.json:
        print_json(night.to_dict())
    else:
        print(f"lab night {night.night_id}: {len(night.phones)} phones, {night.wall_s:.0f} s")
        for phone in night.phones.values():
            line = f"  {phone.alias}: {phone.status}, {phone.ok} ok, {phone.failed} failed, {phone.not_run} not run"
            print(line + (f", run {phone.run_id}" if phone.run_id else ""))
            for reason in phone.reasons:
                print(f"    set aside: {reason}")
            for retry in phone.retries:
                print(f"    retried {retry['job_id']} (try {retry['attempt'] + 1}): {retry['reason']}")
        for alias, series in night.regressions:
            for verdict in series.regressions:
                print(f"  REGRESSION {alias} {series.job_id} {verdict.kind}: {verdict.evidence}")
    if night.regressions and not args.no_fail:
        return EXIT_REGRESSION
    return 1 if any(p.failed for p in night.phones.values()) else 0
