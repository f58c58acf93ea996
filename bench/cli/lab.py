"""`bench lab run --config devices/lab.toml`: the night over every phone, then the verdicts."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from bench.cli.common import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, print_json, store_arg, store_path


def register(subparsers: Any) -> None:
    lab = subparsers.add_parser("lab", help="the nightly lab: every phone, health, history, regressions")
    sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the lab's matrix on every phone at once")
    run.add_argument("--config", type=Path, default=Path("devices/lab.toml"), help="lab config (devices/lab.toml)")
    run.add_argument("--resume", default=None, metavar="NIGHT", help="finish only what night NIGHT lacks")
    run.add_argument("--ray", default=None, metavar="ADDRESS",
                     help="run each phone's jobs on the Ray node of the host it is plugged into (`bench lab node`)")
    run.add_argument("--no-fail", action="store_true", help="report regressions but do not exit 3")
    run.add_argument("--json", action="store_true")
    store_arg(run)
    run.set_defaults(handler=_run)
    node = sub.add_parser("node", help="make this host a Ray node that advertises its phones to `lab run --ray`")
    where = node.add_mutually_exclusive_group(required=True)
    where.add_argument("--ray", default=None, metavar="ADDRESS", help="join the cluster at ADDRESS (host:port)")
    where.add_argument("--head", action="store_true", help="start the cluster here")
    node.add_argument("--port", type=int, default=6379, help="the head's port (with --head)")
    node.add_argument("--phones", default=None, help="comma-separated aliases to advertise (default: every phone "
                      "online here)")
    node.add_argument("--devices", type=Path, default=None, help="this host's inventory folder (default: "
                      "BENCH_DEVICES or ./devices)")
    node.add_argument("--block", action="store_true", help="stay in the foreground (for a systemd unit)")
    node.add_argument("ray_args", nargs=argparse.REMAINDER, help="after --: more `ray start` options")
    node.set_defaults(handler=_node)


def _run(args: argparse.Namespace) -> int:
    from bench.lab.night import Cluster, run_night
    from bench.lab.settings import load_lab
    from bench.paths import cache_dir

    config, settings, inventory = load_lab(args.config)
    # Ray's driver prints its cluster's news (a node that died) to stdout: keep stdout for the night's report
    with contextlib.redirect_stdout(sys.stderr):
        cluster: Cluster | None = None
        if args.ray:
            from bench.lab.ray import RayLab

            cluster = RayLab.connect(args.ray)
        try:
            night = run_night(config, settings, inventory, store_path(args.store), cache_dir(),
                              resume=args.resume, cluster=cluster)
        finally:
            if cluster is not None:
                cluster.close()
    if args.json:
        print_json(night.to_dict())
    else:
        print(f"lab night {night.night_id}: {len(night.phones)} phones, {night.wall_s:.0f} s")
        for phone in night.phones.values():
            line = f"  {phone.alias}: {phone.status}, {phone.ok} ok, {phone.failed} failed, {phone.not_run} not run"
            print(line + (f", run {phone.run_id}" if phone.run_id else ""))
            for reason in phone.reasons:
                print(f"    {'lost' if phone.status == 'lost' else 'set aside'}: {reason}")
            for retry in phone.retries:
                print(f"    retried {retry['job_id']} (try {retry['attempt'] + 1}): {retry['reason']}")
        for alias, series in night.regressions:
            for verdict in series.regressions:
                print(f"  REGRESSION {alias} {series.job_id} {verdict.kind}: {verdict.evidence}")
        if any(p.not_run or p.status == "lost" for p in night.phones.values()):
            print(f"  finish what was not run with: python -m bench lab run --config {args.config} --resume "
                  f"{night.night_id}" + (f" --ray {args.ray}" if args.ray else ""))
    if night.regressions and not args.no_fail:
        return EXIT_REGRESSION
    return EXIT_ERROR if any(p.failed for p in night.phones.values()) else EXIT_OK


def _node(args: argparse.Namespace) -> int:
    from bench.devices.select import inventory_folder
    from bench.lab.node import attached_phones, start_node

    given = args.devices is not None
    devices: Path = args.devices if given else inventory_folder()
    if args.phones:
        phones = [p for p in args.phones.split(",") if p]
    else:
        if not given and not devices.is_dir():
            print(f"no inventory folder {devices} here: phones go by their serials (simulated ones by bench sim's "
                  "names); name this host's folder with --devices DIR")
        attached = attached_phones(devices, given=given)
        phones = [name for name, _, _ in attached]
        for name, serial, known in attached:
            print(f"  {name}" + (f" ({serial})" if name != serial else "") + ("" if known else
                  f": not in {devices}, so advertised by its serial; a lab config that names it by an alias "
                  f"will not find it: add it to {devices}/*.toml"))
    if not phones:
        print("no phone is online on this host: the node joins, but no lab job will be placed on it")
    extra = [a for a in args.ray_args if a != "--"]
    start_node(phones, address=args.ray, port=args.port, devices=devices, extra=extra, block=args.block)
    where = f"the cluster at {args.ray}" if args.ray else f"a new cluster on port {args.port}"
    print(f"this host joined {where}, advertising {len(phones)} phone(s): {', '.join(phones) or '-'}")
    print("run the night from any host of the cluster: python -m bench lab run --config devices/lab.toml "
          "--ray ADDRESS")
    return 0
