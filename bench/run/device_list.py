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
    iphones = _iphones(by_serial, wanted=any(e.platform == "ios" for e in entries.values()))
    attached_anywhere = set(attached) | {row["serial"] for row in iphones}
    for alias, entry in sorted(entries.items()):
        if entry.serial and entry.serial in attached_anywhere:
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
    return rows + iphones


def _iphones(by_serial: dict[str, Any], wanted: bool) -> list[dict[str, Any]]:
    """iPhones usbmuxd reports; a note instead when they are expected (inventory, USBMUXD_SOCKET_ADDRESS) but
    cannot be listed."""
    import os

    from bench.devices.ios.port import IOSPortError
    from bench.run.devices import ios_port

    wanted = wanted or bool(os.environ.get("USBMUXD_SOCKET_ADDRESS"))
    from bench.devices.ios.backend import port_error

    try:
        port = ios_port()
    except BenchError as exc:
        return [{"alias": None, "platform": "ios", "serial": None, "state": "not listed", "model": str(exc)}] \
            if wanted else []
    try:
        phones = port.list_devices()
    except IOSPortError as exc:
        note = str(port_error(None, exc)).removeprefix("iPhones: ")
        return [{"alias": None, "platform": "ios", "serial": None, "state": "not listed", "model": note}] \
            if wanted else []
    finally:
        close = getattr(port, "close", None)
        if close is not None:
            close()
    rows = []
    for phone in phones:
        known = by_serial.get(phone.udid)
        rows.append({"alias": known.alias if known else None, "platform": "ios", "serial": phone.udid,
                     "state": phone.state, "model": f"{phone.name} ({phone.product_type}, iOS {phone.ios_version})",
                     "connection": phone.connection})
    return rows
