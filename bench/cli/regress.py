"""`bench regress [RUN_ID|latest]`: a run against the earlier runs of the same device, series by series."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli.common import EXIT_OK, EXIT_REGRESSION, open_store, print_json, store_arg


def register(subparsers: Any) -> None:
    regress = subparsers.add_parser("regress", help="compare a run with the same device's earlier runs; exit 3 on a "
                                                    "confirmed regression")
    regress.add_argument("run_id", nargs="?", default="latest", help="a run id, or latest (default)")
    regress.add_argument("--window", type=int, default=7, help="earlier runs of a series to compare with (7)")
    regress.add_argument("--no-fail", action="store_true", help="report regressions but exit 0")
    regress.add_argument("--json", action="store_true")
    store_arg(regress)
    regress.set_defaults(handler=_regress)


def _regress(args: argparse.Namespace) -> int:
    from bench.results.history import judge_run

    with open_store(args.store) as store:
        run_id = store.run(args.run_id).run_id
        judged = judge_run(store, run_id, window=max(1, args.window))
    regressions = [(s, v) for s in judged for v in s.regressions]
    if args.json:
        print_json({"run_id": run_id, "series": [s.to_dict() for s in judged], "regressions": len(regressions)})
    else:
        print(f"run {run_id}: {len(judged)} series, {len(regressions)} regression(s)")
        for series in judged:
            changed = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in series.changed.items())
            if series.status != "judged":
                print(f"  {series.job_id}: {series.status}" + (f" ({changed})" if changed else ""))
                continue
            for verdict in series.verdicts:
                mark = "REGRESSION" if verdict.regression else verdict.status
                print(f"  {series.job_id} {verdict.kind}: {mark}: {verdict.evidence}"
                      + (f" [changed: {changed}]" if changed else ""))
    return EXIT_REGRESSION if regressions and not args.no_fail else EXIT_OK
