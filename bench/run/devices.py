"""Turn a device alias into its backend: `local`, an inventory alias, `android`, or a serial."""

from __future__ import annotations

import os
from pathlib import Path

from bench.devices.base import Device
from bench.devices.inventory import InventoryEntry, load_inventory
from bench.errors import DeviceError, DeviceNotReadyError
from bench.paths import data_dir


def inventory_folders() -> list[Path]:
    """The project's `devices/` and the simulated phones' own inventory (`bench sim start` writes it)."""
    return [Path("devices"), data_dir() / "sim"]


def open_device(alias: str, *, benchmark_model: Path | None = None, run_eval: Path | None = None,
                inventory: dict[str, InventoryEntry] | None = None) -> Device:
    """Return the backend for `alias`; `local` is this host, `android` the one attached phone."""
    if alias == "local":
        from bench.devices.local import LocalDevice

        return LocalDevice()
    from bench.devices.android import adb
    from bench.devices.android.backend import AndroidDevice
    from bench.run.tools import cached_tool

    def android(name: str, serial: str, tool: Path | None, evaluator: Path | None = run_eval) -> Device:
        # without a tool given, the one `bench tools fetch` cached for the phone's ABI
        return AndroidDevice(name, serial, client, tool=tool, tool_for_abi=cached_tool, run_eval=evaluator)

    entries = inventory if inventory is not None else load_inventory(inventory_folders())
    client = adb.client()
    entry = entries.get(alias)
    if entry is not None:
        if entry.platform != "android":
            raise DeviceError(f"{alias} is an {entry.platform} device; only Android phones and the host are supported "
                              "so far")
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
    known = ["local", *sorted(entries), *serials]
    raise DeviceError(f"no device {alias!r}; known: {', '.join(known)}. Add it to devices/*.toml or list them with: "
                      "python -m bench devices")


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
