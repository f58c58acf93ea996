"""Where bench keeps its caches and data on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Return the cache root: `BENCH_CACHE`, else the user cache dir."""
    override = os.environ.get("BENCH_CACHE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("bench", appauthor=False)


def data_dir() -> Path:
    """Return the data root (result store): `BENCH_DATA`, else the user data dir."""
    override = os.environ.get("BENCH_DATA")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("bench", appauthor=False)
