"""Heat: wait for a phone to cool down before a job, and say when a job's numbers may hold throttling.

The gate reads the device's temperatures (its CPU zones, else all of them) every few seconds until
the hottest is below the threshold, or the timeout passes; the job then runs either way, and the
result records how long it waited and how hot the phone still was. After the job, three things flag
it: the OS's thermal status says it was throttling (one definition: `DeviceState.throttling`), the
device heated by more than HEATING_LIMIT_C, or the gate gave up before the device cooled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench.config import RunConfig
from bench.devices.base import Device
from bench.results.device_records import DeviceState, Platform
from bench.results.records import CooldownWait

PHONE_COOLDOWN_BELOW_C = 45.0
HEATING_LIMIT_C = 5.0


@dataclass(frozen=True, slots=True)
class CooldownGate:
    below_c: float
    timeout_s: float


def cooldown_gate(run: RunConfig, platform: Platform) -> CooldownGate | None:
    """The gate before each job: phones by default, the host only when asked."""
    below = run.cooldown_below_c
    if below is None:
        below = None if platform is Platform.LOCAL else PHONE_COOLDOWN_BELOW_C
    return CooldownGate(below, run.cooldown_timeout_s) if below else None


def wait_until_cool(device: Device, below_c: float, timeout_s: float, poll_s: float = 5.0,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> tuple[CooldownWait, DeviceState]:
    """Poll `device.snapshot()` until its hottest temperature is below `below_c` or `timeout_s` passes;
    the wait, and the last state read."""
    started = clock()
    state = device.snapshot()
    first = current = state.hottest_c
    while current is not None and current >= below_c and clock() - started < timeout_s:
        sleep(min(poll_s, max(0.0, timeout_s - (clock() - started))))
        state = device.snapshot()
        current = state.hottest_c
    return CooldownWait(below_c=below_c, waited_s=clock() - started, start_temp_c=first, end_temp_c=current,
                        reached=current is None or current < below_c), state


def pass_gate(device: Device, gate: CooldownGate | None) -> tuple[CooldownWait | None, DeviceState]:
    """Wait at the gate, if there is one; the wait (rounded as results keep it) and the device's state as the
    job starts: the gate's last reading, so a job asks the phone for its state once, not twice."""
    if gate is None:
        return None, device.snapshot()
    waited, state = wait_until_cool(device, gate.below_c, gate.timeout_s)
    return replace(waited, waited_s=round(waited.waited_s, 1)), state


def heated_c(before: DeviceState, after: DeviceState) -> float | None:
    start, end = before.hottest_c, after.hottest_c
    return end - start if start is not None and end is not None else None


def heat_warnings(before: DeviceState, after: DeviceState, waited: CooldownWait | None,
                  heat_is_measured: bool = False) -> list[str]:
    """Why a job's numbers may hold throttling, each with what to do. A sustained job measures its own heating
    (`heat_is_measured`): its rise is a finding, not a warning."""
    warnings = []
    heated = heated_c(before, after)
    if heated is not None and heated > HEATING_LIMIT_C and not heat_is_measured:
        warnings.append(f"the device heated by {heated:.1f} °C during the job: it may have throttled; "
                        "add a cool-down (--cooldown-below-c) or fewer runs per job")
    if after.throttling:
        warnings.append(f"the device's thermal status was {after.thermal_status} after the job: it was throttling; "
                        "let it cool (out of its case, off the charger), then resume with --resume")
    if waited is not None and not waited.reached and waited.end_temp_c is not None:
        warnings.append(f"the device was still at {waited.end_temp_c:.1f} °C after waiting "
                        f"{waited.waited_s:.0f} s to cool below {waited.below_c:.0f} °C: it may have been "
                        "throttled; let it rest, or raise --cooldown-timeout-s")
    return warnings
