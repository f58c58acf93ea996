"""A phone's temperatures: `dumpsys thermalservice` when its HAL answers, else /sys/class/thermal.

`dumpsys thermalservice` (AOSP ThermalManagerService.dump) prints two lists of
`Temperature{mValue=.., mType=.., mName=.., mStatus=..}`: "Cached temperatures" holds the last value
each sensor sent with a threshold event, which can be minutes old and 20 °C off (captures of a
Pixel 3 and a Qualcomm phone in ../shared/device-dumps show it), and "Current temperatures from HAL"
is read from the HAL while dumping: only the second is used. `CoolingDevice{...}` lines are fan and
clock-limit states, not temperatures. With `HAL Ready: false` the dump stops before the HAL's lists,
so the thermal zones are read instead. Sensor names are kept whole (`cpu0-silver-usr`, `VIRTUAL-SKIN`).
"""

from __future__ import annotations

import math
import re

CURRENT_HEADER = "Current temperatures from HAL:"
_TEMPERATURE = re.compile(r"Temperature\{mValue=([^,]+), mType=(-?\d+), mName=([^,}]+)")
# android.os.Temperature's TYPE_* values; BCL_* are battery voltage, current and percentage, not heat
SENSOR_TYPES = {-1: "unknown", 0: "cpu", 1: "gpu", 2: "battery", 3: "skin", 4: "usb", 5: "power amplifier",
                9: "npu", 10: "tpu", 11: "display", 12: "modem", 13: "soc", 14: "wifi", 15: "camera",
                16: "flashlight", 17: "speaker", 18: "ambient", 19: "pogo"}
NOT_HEAT = {6, 7, 8}  # BCL_VOLTAGE (`vbat` 4.384), BCL_CURRENT, BCL_PERCENTAGE (`socd` 11.0)
PLAUSIBLE_C = (-30.0, 150.0)  # outside: an absent thermistor (-40 on `pa_therm1`) or a misread unit


def hal_temperatures(dump: str) -> dict[str, float] | None:
    """`{"cpu0-silver-usr (cpu, HAL)": 33.8, ...}` from the HAL's current list; None when it gave none.

    A reading of exactly 0.0 is a sensor the phone lacks (Samsung reports `SUBBAT`, `USB` so).
    """
    if "HAL Ready: false" in dump or CURRENT_HEADER not in dump:
        return None
    section = dump.split(CURRENT_HEADER, 1)[1]
    out: dict[str, float] = {}
    for line in section.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("Temperature{"):
            break  # the next section (cooling devices, thresholds)
        match = _TEMPERATURE.match(line)
        if match is None:
            continue
        value, kind, name = _float(match.group(1)), int(match.group(2)), match.group(3).strip()
        if kind in NOT_HEAT or value is None or value == 0.0 or not _plausible(value):
            continue
        out[f"{name} ({SENSOR_TYPES.get(kind, f'type {kind}')}, HAL)"] = value
    return out or None


def zone_celsius(raw: int) -> float:
    """A thermal zone's `temp` in °C. Most kernels give millidegrees, but one listing can mix units
    (an msm8953's zones print 25000, 309 and 30 for about 25-31 °C: tsens in tenths, ADC sensors in
    degrees), so the magnitude decides."""
    size = abs(raw)
    return raw / 1000.0 if size >= 1000 else raw / 10.0 if size >= 150 else float(raw)


def zone_temperatures(lines: str) -> dict[str, float]:
    """`TYPE TEMP` lines (one per zone) -> {type: °C}; unreadable and implausible zones left out."""
    out: dict[str, float] = {}
    for line in lines.splitlines():
        zone, _, value = line.strip().rpartition(" ")
        if not zone or not value.lstrip("-").isdigit():
            continue
        celsius = zone_celsius(int(value))
        if _plausible(celsius):
            out.setdefault(zone, celsius)
    return out


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _plausible(celsius: float) -> bool:
    return PLAUSIBLE_C[0] < celsius < PLAUSIBLE_C[1]
