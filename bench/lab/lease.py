"""A lease per phone, so two lab runs (or a lab run and a `bench run`) never share one.

An exclusive, non-blocking `flock` on `<data dir>/leases/<serial>.lock`, held for as long as the
phone is in use. The kernel releases it when the holder exits, so a killed lab run leaves no stale
lease behind; the file keeps the last holder's pid and command for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.errors import DeviceNotReadyError
from bench.paths import data_dir


def lease_path(serial: str) -> Path:
    return data_dir() / "leases" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', serial)}.lock"


@contextlib.contextmanager
def phone_lease(serial: str) -> Iterator[None]:
    """Hold the phone's lease for the block; DeviceNotReadyError when another process holds it."""
    path = lease_path(serial)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DeviceNotReadyError(f"phone {serial} is in use by {holder}; wait for it to finish or stop it") \
                from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({' '.join(sys.argv[:4])})")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock
