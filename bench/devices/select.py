"""Choose and open a device: an alias (`local`, an inventory alias, `android`, `ios`, a serial) becomes its
backend; `bench devices` lists the host, the inventory and what is attached."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bench.devices.base import Device
from bench.devices.inventory import InventoryEntry, load_inventory
from bench.devices.ios.port import IOSPort, IOSPortError
from bench.errors import BenchError, DeviceError, DeviceNotReadyError
from bench.paths import data_dir

log = logging.getLogger(__name__)


def inventory_folder() -> Path:
    """This host's inventory: BENCH_DEVICES, else the project's `devices/`."""
    return Path(os.environ.get("BENCH_DEVICES") or "devices")


def inventory_folders() -> list[Path]:
    """This host's inventory and the simulated phones' own (`bench sim start`)."""
    return [inventory_folder(), data_dir() / "sim"]


def open_device(alias: str, *, benchmark_model: Path | None = None, run_eval: Path | None = None,
                runner_ipa: Path | None = None, inventory: dict[str, InventoryEntry] | None = None) -> Device:
    """Return the backend for `alias`; `local` is this host, `android` / `ios` the one attached phone."""
    if alias == "local":
        from bench.devices.local import LocalDevice

        return LocalDevice()
    entries = inventory if inventory is not None else load_inventory(inventory_folders())
    entry = entries.get(alias)
    if alias == "ios" or (entry is not None and entry.platform == "ios"):
        return _iphone(alias, entry, runner_ipa)
    from bench.devices.android import adb
    from bench.devices.android.backend import AndroidDevice
    from bench.devices.android.tools import cached_tool

    def android(name: str, serial: str, tool: Path | None, evaluator: Path | None = run_eval) -> Device:
        # without a tool given, the one `bench tools fetch` cached for the phone's ABI
        return AndroidDevice(name, serial, client, tool=tool, tool_for_abi=cached_tool, run_eval=evaluator)

    client = adb.client()
    if entry is not None:
        serial = entry.serial or _serial_of_model(client, entry)
        return android(alias, serial, benchmark_model or entry.benchmark_model, run_eval or entry.run_eval)
    attached = [a for a in adb.attached(client)]
    serials = [a.serial for a in attached]
    if alias == "android":
        chosen = os.environ.get("ANDROID_SERIAL")
        if chosen:
            return android(chosen, chosen, benchmark_model)
        if len(serials) == 1:
            return android(serials[0], serials[0], benchmark_model)
        if not serials:
            raise DeviceNotReadyError("no Android phone attached; plug one in with USB debugging on, then run: "
                                      "adb devices")
        raise DeviceError(f"{len(serials)} phones attached ({', '.join(serials)}); pick one with --device SERIAL, "
                          "ANDROID_SERIAL, or an alias in devices/*.toml")
    if alias in serials:
        return android(alias, alias, benchmark_model)
    named = _attached_named(client, alias)
    if len(named) == 1:
        serial, model = named[0]
        log.warning("no alias %r in devices/*.toml: using the one attached phone whose name holds it, %s (%s)",
                    alias, model, serial)
        return android(alias, serial, benchmark_model)
    if named:
        raise DeviceError(f"{len(named)} attached phones match {alias!r}: "
                          + ", ".join(f"{model} ({serial})" for serial, model in named)
                          + "; pick one with --device SERIAL, or give each an alias in devices/*.toml")
    known = ["local", *sorted(entries), *serials]
    raise DeviceError(f"no device {alias!r}; known: {', '.join(known)}. Add it to devices/*.toml (copy "
                      "devices/examples/android.toml or iphone.toml) or list them with: python -m bench devices")


def ios_port() -> IOSPort:
    """The port to real iPhones (pymobiledevice3, the `ios` extra)."""
    try:
        from bench.devices.ios.pmd3_port import Pmd3Port
    except ImportError as exc:
        raise DeviceError(f"iPhones need the ios extra ({exc.name} is missing): pip install 'ondevice-bench[ios]'") \
            from exc
    return Pmd3Port()


def _iphone(alias: str, entry: InventoryEntry | None, runner_ipa: Path | None) -> Device:
    from bench.devices.ios.backend import IOSDevice, port_error

    port = ios_port()
    udid = entry.serial if entry is not None else None
    if udid is None:
        try:
            phones = port.list_devices()
        except IOSPortError as exc:
            raise port_error(None, exc) from exc
        udid = _one_iphone([p.udid for p in phones])
    ipa = runner_ipa or (entry.runner_ipa if entry is not None else None)
    return IOSDevice(alias, udid, port, runner_ipa=ipa, crash_dir=data_dir() / "ios-crash-reports")


def _one_iphone(udids: list[str]) -> str:
    chosen = os.environ.get("BENCH_IOS_UDID")
    if chosen:
        return chosen
    if len(udids) == 1:
        return udids[0]
    if not udids:
        raise DeviceNotReadyError("no iPhone attached; plug one in, unlock it and trust this computer, then run: "
                                  "python -m bench devices")
    raise DeviceError(f"{len(udids)} iPhones attached ({', '.join(udids)}); pick one with an alias in "
                      "devices/*.toml or BENCH_IOS_UDID")


def _attached_named(client: object, name: str) -> list[tuple[str, str]]:
    """(serial, model) of each online phone whose model or product name holds `name`, case-insensitive:
    `--device pixel` finds the one attached Pixel."""
    from bench.devices.android import adb

    found = []
    for attached in adb.attached(client):
        if attached.state != "device":
            continue
        props = adb.getprops(adb.device(client, attached.serial))
        names = [props.get(k, "") for k in ("ro.product.model", "ro.product.name", "ro.product.device")]
        if any(name.lower() in n.lower() for n in names if n):
            found.append((attached.serial, props.get("ro.product.model", "?")))
    return found


def _serial_of_model(client: object, entry: InventoryEntry) -> str:
    from bench.devices.android import adb

    matches = []
    for attached in adb.attached(client):
        if attached.state == "device":
            model = adb.getprops(adb.device(client, attached.serial)).get("ro.product.model", "")
            if entry.model and entry.model.lower() == model.lower():
                matches.append(attached.serial)
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(matches)
        raise DeviceNotReadyError(f"device {entry.alias!r} is the phone whose model is {entry.model!r}; attached "
                                  f"matches: {found}. Give its serial in {entry.source}")
    return matches[0]


def list_devices(folders: list[Path] | None = None) -> list[dict[str, Any]]:
    """One row per device: alias, platform, serial, state (online / unauthorized / offline / absent), model;
    aliases from the inventory in `folders` (default: inventory_folders())."""
    from bench.devices.android import adb
    from bench.devices.android.backend import AndroidDevice
    from bench.devices.inventory import load_inventory
    from bench.devices.local import LocalDevice

    host = LocalDevice().describe()
    rows: list[dict[str, Any]] = [{"alias": "local", "platform": "local", "serial": host.id, "state": "online",
                                   "model": f"{host.model} {host.soc or ''}".strip()}]
    entries = load_inventory(folders if folders is not None else inventory_folders())
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
                row |= {"model": info.model, "simulated": info.simulated, "battery_percent": now.battery_percent,
                        "temperature_c": now.hottest_c, "thermal_status": now.thermal_status}
            except BenchError as exc:
                row["state"] = f"error: {exc}"
        rows.append(row)
    return rows + iphones


def _iphones(by_serial: dict[str, Any], wanted: bool) -> list[dict[str, Any]]:
    """iPhones usbmuxd reports; a note instead when they are expected (inventory, USBMUXD_SOCKET_ADDRESS) but
    cannot be listed."""
    import os

    from bench.devices.ios.port import IOSPortError

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
