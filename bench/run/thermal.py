"""Wait for a phone to cool down before a job, instead of sleeping a fixed time.

The gate reads the device's temperatures (its CPU zones, else all of them) every few seconds until
the hottest is below the threshold, or the timeout passes; the job then runs either way, and the
result records how long it waited and how hot the phone still was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.devices.base import Device


@dataclass(frozen=True, slots=True)
class Cooldown:
    waited_s: float
    start_temp_c: float | None
    end_temp_c: float | None
    reached: bool


def wait_until_cool(device: Device, below_c: float, timeout_s: float, poll_s: float = 5.0,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> Cooldown:
    """Poll `device.snapshot()` until its hottest temperature is below `below_c` or `timeout_s` passes."""
    started = clock()
    first = current = device.snapshot().hottest_c
    while current is not None and current >= below_c and clock() - started < timeout_s:
        sleep(min(poll_s, max(0.0, timeout_s - (clock() - started))))
        current = device.snapshot().hottest_c
    return Cooldown(waited_s=clock() - started, start_temp_c=first, end_temp_c=current,
                    reached=current is None or current < below_c)
