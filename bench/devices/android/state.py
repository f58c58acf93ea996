"""A phone's state in one shell round trip: battery, thermal status, temperatures, clocks, screen.

    dumpsys battery         ->  level: 87 / temperature: 321 (tenths of °C) / status: 2 (charging)
    dumpsys thermalservice  ->  Thermal Status: 0 / the HAL's current temperatures (bench.devices.android.thermal)
    /sys/class/thermal/thermal_zone*/{type,temp}   (read when the HAL gives none)
    /sys/devices/system/cpu/cpu*/cpufreq/{scaling_cur_freq,scaling_governor}
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bench.devices.android.thermal import hal_temperatures, zone_temperatures
from bench.results.device_records import DeviceState

SEPARATOR = "@@bench@@"
# Each section is printed after a marker line, so one answer can be split back into its parts.
COMMAND = "; ".join([
    f"echo {SEPARATOR}battery", "dumpsys battery",
    f"echo {SEPARATOR}thermal", "dumpsys thermalservice",
    f"echo {SEPARATOR}zones",
    "for z in /sys/class/thermal/thermal_zone*; do echo \"$(cat $z/type) $(cat $z/temp)\"; done",
    f"echo {SEPARATOR}cpus", "for c in /sys/devices/system/cpu/cpu[0-9]*; do "
    "echo \"${c##*/} $(cat $c/cpufreq/scaling_cur_freq) $(cat $c/cpufreq/scaling_governor)\"; done",
    f"echo {SEPARATOR}power", "dumpsys power | grep -E 'mWakefulness=|Display Power: state='",
]) + " 2>/dev/null"

_THERMAL_STATUS = {0: "none", 1: "light", 2: "moderate", 3: "severe", 4: "critical", 5: "emergency", 6: "shutdown"}


def sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if line.startswith(SEPARATOR):
            name = line.removeprefix(SEPARATOR).strip()
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return sections


def _field(text: str, name: str) -> str | None:
    match = re.search(rf"^\s*{re.escape(name)}:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def parse_state(text: str) -> DeviceState:
    """Turn the answer to COMMAND into a DeviceState (None where the phone did not say)."""
    parts = sections(text)
    battery, thermal = parts.get("battery", ""), parts.get("thermal", "")
    temperatures = hal_temperatures(thermal) or zone_temperatures(parts.get("zones", ""))
    level = _field(battery, "level")
    battery_tenths = _field(battery, "temperature")
    if battery_tenths and battery_tenths.lstrip("-").isdigit():
        temperatures.setdefault("battery (dumpsys)", int(battery_tenths) / 10.0)
    status = _field(thermal, "Thermal Status")
    frequencies: dict[str, int] = {}
    governors = set()
    for line in parts.get("cpus", "").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].isdigit():
            frequencies[fields[0]] = int(fields[1])
        if len(fields) >= 3:
            governors.add(fields[2])
    power = parts.get("power", "")
    screen = re.search(r"Display Power: state=(\w+)", power)
    charging = _field(battery, "status")
    return DeviceState(
        captured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        temperatures_c=temperatures,
        thermal_status=_THERMAL_STATUS.get(int(status), status) if status and status.isdigit() else status,
        battery_percent=float(level) if level and level.isdigit() else None,
        charging=(charging in ("2", "5")) if charging else None,  # BATTERY_STATUS_CHARGING, _FULL
        governor=",".join(sorted(governors)) or None,
        cpu_freq_khz=frequencies,
        screen_on=(screen.group(1) == "ON") if screen else None,
    )
