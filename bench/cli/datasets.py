"""`bench datasets check DIR`, `bench datasets subsets`, `bench datasets make-subset`."""

from __future__ import annotations

import argparse
import sys
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
    subsets = sub.add_parser("subsets", help="the named evaluation subsets (datasets/*.txt) and what they hold")
    subsets.set_defaults(handler=_subsets)
    make = sub.add_parser("make-subset", help="write a named subset: K images of each class, by the documented rule")
    make.add_argument("source", type=Path, help="an ImageNet val folder, or a file of one synset per line in "
                                                 "image-number order (tensorflow-datasets' validation_labels.txt)")
    make.add_argument("--per-class", dest="per_class", type=int, required=True, help="images of each class")
    make.add_argument("--out", type=Path, required=True, help="the manifest to write (NAME.txt)")
    make.add_argument("--labels-source", dest="labels_source", default=None,
                      help="where the labels came from, as the manifest should say (default: SOURCE)")
    make.set_defaults(handler=_make_subset)


def _check(args: argparse.Namespace) -> int:
    from bench.datasets.check import check_dataset

    report = check_dataset(args.root)
    # only files that cannot be read are a fault: unknown files (a README) and labelled images a partial copy
    # lacks are listed
    broken = bool(report.unreadable)
    if args.json:
        print_json(report.to_dict())
        return 1 if broken else 0
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
    if broken:
        print(f"{len(report.unreadable)} unreadable image(s): accuracy runs skip them and say so under the table; "
              "copy them again from the ImageNet val archive", file=sys.stderr)
    return 1 if broken else 0


def _subsets(args: argparse.Namespace) -> int:
    from bench.datasets.manifests import available, load_manifest, manifest_folders

    names = available()
    if not names:
        print(f"no named subsets in {', '.join(str(f) for f in manifest_folders()) or './datasets'}")
        return 0
    for name in names:
        manifest = load_manifest(name)
        print(f"{name}: {len(manifest.ids)} images ({manifest.header.get('per_class', '?')} per class), "
              f"ids_sha256 {manifest.ids_sha256[:16]}, {manifest.path}")
    print("use one with: python -m bench run --imagenet DIR --subset NAME")
    return 0


def _make_subset(args: argparse.Namespace) -> int:
    from bench.datasets.manifests import make_manifest, read_labels
    from bench.fileio import write_text_atomic

    labels = read_labels(args.source)
    text = make_manifest(labels, args.per_class, args.out.stem, args.labels_source or str(args.source))
    write_text_atomic(args.out, text)
    count = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    print(f"{args.out}: {count} images from {len(labels)} labelled ones")
    return 0
