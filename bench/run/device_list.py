"""What `bench devices` shows: the host, inventory aliases and attached phones, with their state."""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError
from bench.run.devices import inventory_folders


def list_devices() -> list[dict[str, Any]]:
    """One row per device: alias, platform, serial, state (online / unauthorized / offline / absent), model."""
    from bench.devices.android import adb
    from bench.devices.android.backend import AndroidDevice
    from bench.devices.inventory import load_inventory
    from bench.devices.local import LocalDevice

    host = LocalDevice().describe()
    rows: list[dict[str, Any]] = [{"alias": "local", "platform": "local", "serial": host.id, "state": "online",
                                   "model": f"{host.model} {host.soc or ''}".strip()}]
    entries = load_inventory(inventory_folders())
    client = adb.client()
    try:
        attached = {a.serial: a.state for a in adb.attached(client)}
    except BenchError as exc:
        attached = {}
        rows.append({"alias": None, "platform": "android", "serial": None, "state": "no adb server",
                     "model": str(exc)})
    by_serial = {e.serial: e for e in entries.values() if e.serial}
    for alias, entry in sorted(entries.items()):
        if entry.serial and entry.serial in attached:
            continue  # shown with the attached phones below
        rows.append({"alias": alias, "platform": entry.platform, "serial": entry.serial, "state": "absent",
                     "model": entry.model})
    for serial, state in sorted(attached.items()):
        known = by_serial.get(serial)
        row: dict[str, Any] = {"alias": known.alias if known else None, "platform": "android", "serial": serial,
                               "state": "online" if state == "device" else state, "model": None}
        if state == "device":
            try:
                phone = AndroidDevice(row["alias"] or serial, serial, client)
                info, now = phone.describe(), phone.snapshot()
                temps = [v for k, v in now.temperatures_c.items() if "cpu" in k.lower()]
                row |= {"model": info.model, "simulated": info.simulated, "battery_percent": now.battery_percent,
                        "temperature_c": max(temps) if temps else None, "thermal_status": now.thermal_status}
            except BenchError as exc:
                row["state"] = f"error: {exc}"
        rows.append(row)
    return rows
