"""Turn a device alias into its backend."""

from __future__ import annotations

from bench.devices.base import Device
from bench.errors import DeviceError


def open_device(alias: str) -> Device:
    """Return the backend for `alias`; `local` is this host."""
    if alias == "local":
        from bench.devices.local import LocalDevice

        return LocalDevice()
    raise DeviceError(f"no device {alias!r}: only 'local' (this host) is supported so far; "
                      "run: python -m bench run --device local")
