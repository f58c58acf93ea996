"""Pre-flight health of a phone before a lab night: a phone that fails is set aside with its reasons.

Checked: it answers (online, authorised: `snapshot()` raises otherwise), battery above a floor
(unless charging), hottest temperature below a ceiling, free storage where bench writes, and no
other benchmark process running (a second `benchmark_model` would share the CPU with ours).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.devices.base import Device, HealthProbe
from bench.errors import BenchError


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthLimits:
    battery_min_percent: float = 20.0
    temperature_max_c: float = 45.0
    free_storage_min_mb: float = 200.0


def health_problems(device: Device, limits: HealthLimits) -> list[str]:
    """Why the phone should not run tonight; empty when it may."""
    try:
        state = device.snapshot()
    except BenchError as exc:
        return [str(exc)]
    problems = []
    if state.battery_percent is not None and state.battery_percent < limits.battery_min_percent \
            and not state.charging:
        problems.append(f"battery at {state.battery_percent:.0f}% (floor {limits.battery_min_percent:.0f}%) and not "
                        "charging: plug it in")
    hottest = state.hottest_c
    if hottest is not None and hottest > limits.temperature_max_c:
        problems.append(f"{hottest:.1f} °C (ceiling {limits.temperature_max_c:.0f} °C): let it cool")
    if isinstance(device, HealthProbe):
        try:
            facts = device.health_facts()
        except BenchError as exc:
            return [*problems, str(exc)]
        free = facts.free_bytes
        if free is not None and free < limits.free_storage_min_mb * 1e6:
            free = _free_after_cleaning(device, free)  # bench's own files first: they are bench's to remove
        if free is not None and free < limits.free_storage_min_mb * 1e6:
            problems.append(f"{free / 1e6:.0f} MB free (floor {limits.free_storage_min_mb:.0f} MB) even without "
                            "bench's own files: free space on it")
        if facts.other_benchmark:
            problems.append(f"another benchmark is running on it ({facts.other_benchmark}): stop it first")
    return problems


def _free_after_cleaning(device: Device, free: int) -> int | None:
    """Remove what bench pushed to the phone (its folder only; it pushes again what a job needs) and read
    the free space again."""
    assert isinstance(device, HealthProbe)
    try:
        device.cleanup()
        return device.health_facts().free_bytes
    except BenchError:
        return free
