"""Small helpers shared by the subcommands: exit codes, the result store, JSON output, argument types."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import ConfigError

if TYPE_CHECKING:
    from bench.results.store import Store

# 0 measured; 1 an error, or a job failed; 2 measured, but a result is unstable or the device was not in benchmark
# state; 3 a regression gate failed; 130 interrupted
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_UNSTABLE = 2
EXIT_REGRESSION = 3
EXIT_INTERRUPTED = 130


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def imagenet_root(value: str | None) -> Path | None:
    """Return --imagenet, else $BENCH_IMAGENET, else None (no ImageNet on this machine)."""
    chosen = value or os.environ.get("BENCH_IMAGENET")
    return Path(chosen).expanduser() if chosen else None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not a whole number") from exc
    if value <= 0:
        raise ConfigError(f"{value} must be at least 1")
    return value


def store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, default=None,
                        help="result store (SQLite); default: results.sqlite in the user data dir (BENCH_DATA)")


def store_path(path: Path | None) -> Path:
    """`--store`, else results.sqlite in the data dir (BENCH_DATA)."""
    from bench.paths import data_dir

    return path or data_dir() / "results.sqlite"


def open_store(path: Path | None) -> Store:
    from bench.results.store import Store

    return Store(store_path(path))
