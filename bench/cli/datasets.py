"""`bench datasets check DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("datasets", help="inspect ImageNet val folders")
    sub = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="report the layout, image and class counts, unreadable or unknown files")
    check.add_argument("root", type=Path, help="the ImageNet val folder")
    check.add_argument("--json", action="store_true", help="print machine-readable JSON")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from bench.datasets.check import check_dataset

    report = check_dataset(args.root)
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"{report.root}: layout {report.layout}")
    print(f"  images: {report.images} ({report.usable_images} readable) in {report.classes} of 1000 classes")
    print(f"  unreadable: {len(report.unreadable)}")
    for name, reason in report.unreadable[:20]:
        print(f"    {name}: {reason}")
    print(f"  unknown files or folders: {len(report.unknown)}")
    for name in report.unknown[:20]:
        print(f"    {name}")
    if report.missing:
        print(f"  labelled but missing: {len(report.missing)}")
        for name in report.missing[:20]:
            print(f"    {name}")
    return 0
