"""Small helpers shared by the subcommands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.errors import ConfigError


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
