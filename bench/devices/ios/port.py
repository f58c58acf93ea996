"""The iOS device port: what bench asks of an iPhone, as a Protocol of our own.

Everything above it (the backend, the run, the tests) talks to this port, never to
pymobiledevice3: `pmd3_port.py` implements it over USB (usbmuxd, lockdown, the iOS 17+ tunnel,
house_arrest, DVT), and the tests implement it with a fake. Paths on the phone are relative to the
runner app's container (`Documents/...`), the only place bench writes.

A port raises `IOSPortError` with an `IOSFault` for every failure a user can fix; the backend turns
the fault into a one-line message naming the fix (`FIXES`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class IOSFault(enum.Enum):
    NOT_CONNECTED = "not connected"
    LOCKED = "locked"
    NOT_TRUSTED = "pairing not trusted"
    DEVELOPER_MODE_OFF = "Developer Mode off"
    DISK_IMAGE_NOT_MOUNTED = "developer disk image not mounted"
    TUNNEL_MISSING = "no iOS 17+ tunnel"
    APP_NOT_INSTALLED = "runner app not installed"
    SIGNING = "app not signed for this device, or its provisioning profile expired"
    APP_CRASHED = "app crashed"
    APP_KILLED_FOR_MEMORY = "app killed for memory"
    HUNG = "app did not finish"
    THERMAL = "thermal state serious or critical"
    TRANSFER = "file transfer failed"


# What to do about each fault: the second half of every error message.
FIXES = {
    IOSFault.NOT_CONNECTED: "plug it in and unlock it (on Linux usbmuxd must run: sudo apt install usbmuxd; for a "
                            "remote usbmuxd set USBMUXD_SOCKET_ADDRESS=host:port), then run: python -m bench devices",
    IOSFault.LOCKED: "unlock the iPhone and keep it unlocked during the run (Settings > Display > Auto-Lock: Never)",
    IOSFault.NOT_TRUSTED: "tap Trust on the iPhone's 'Trust This Computer?' prompt, or pair it with: "
                          "pymobiledevice3 lockdown pair",
    IOSFault.DEVELOPER_MODE_OFF: "turn on Settings > Privacy & Security > Developer Mode and restart the iPhone",
    IOSFault.DISK_IMAGE_NOT_MOUNTED: "mount it with: pymobiledevice3 mounter auto-mount",
    IOSFault.TUNNEL_MISSING: "iOS 17 to 17.3 needs the tunnel daemon: sudo pymobiledevice3 remote tunneld "
                             "(17.4+ opens one by itself)",
    IOSFault.APP_NOT_INSTALLED: "build BenchRunner (devices/ios/BenchRunner/README.md) and give its .ipa with "
                                "--runner-ipa PATH",
    IOSFault.SIGNING: "re-sign BenchRunner with a profile that lists this device's UDID (devices/ios/BenchRunner/"
                      "README.md), then install it again with --runner-ipa",
    IOSFault.APP_CRASHED: "see the crash report stored with the job; rerun the job alone with --resume",
    IOSFault.APP_KILLED_FOR_MEMORY: "the model needs more memory than iOS allows the app: try a smaller variant or "
                                    "fewer compute units",
    IOSFault.HUNG: "the run was killed; check the iPhone (a dialog or the lock screen may block the app)",
    IOSFault.THERMAL: "let the iPhone cool down (out of its case, off the charger), then resume with --resume",
    IOSFault.TRANSFER: "check the cable and free space on the iPhone, then resume with --resume",
}


class IOSPortError(Exception):
    """A port operation failed for a reason in `IOSFault`; `detail` is what the device or library said."""

    def __init__(self, fault: IOSFault, detail: str = "") -> None:
        super().__init__(f"{fault.value}: {detail}" if detail else fault.value)
        self.fault = fault
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class IPhone:
    """One device as usbmuxd and lockdown describe it."""

    udid: str
    name: str  # the user-given name, "Jane's iPhone"
    product_type: str  # "iPhone15,2"
    ios_version: str  # "17.4.1"
    build: str | None = None  # "21E236"
    connection: str = "usb"  # usb | network
    cpu_architecture: str | None = None  # "arm64e"
    state: str = "online"  # online | locked | untrusted | ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Preflight:
    """What decides whether a job can run now, read before each job."""

    locked: bool
    developer_mode: bool | None  # None: iOS before 16 has no Developer Mode
    disk_image_mounted: bool
    tunnel: bool | None  # None: not needed (before iOS 17)
    battery_percent: float | None = None
    battery_temperature_c: float | None = None
    charging: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledApp:
    bundle_id: str
    version: str  # CFBundleShortVersionString
    build: str  # CFBundleVersion


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSample:
    """One sysmontap sample of the app's process."""

    phys_footprint_bytes: int  # what iOS counts against the app's memory limit
    cpu_percent: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CrashReport:
    name: str  # the report's file name on the device
    text: str
    killed_for_memory: bool  # a jetsam event naming the app, not a crash of its own


class IOSPort(Protocol):
    def list_devices(self) -> list[IPhone]:
        """Every iPhone usbmuxd reports, paired or not."""

    def preflight(self, udid: str) -> Preflight:
        """Lock state, Developer Mode, disk image, tunnel, battery."""

    def ensure_disk_image(self, udid: str) -> None:
        """Mount the developer disk image if it is not (auto-mount: personalized on iOS 17+)."""

    def installed_app(self, udid: str, bundle_id: str) -> InstalledApp | None:
        """The runner app's installed version, or None."""

    def install(self, udid: str, ipa: Path) -> None:
        """Install (or upgrade) an .ipa."""

    def list_files(self, udid: str, bundle_id: str, folder: str) -> list[str]:
        """Names in a folder of the app's container (empty when it does not exist)."""

    def push(self, udid: str, bundle_id: str, local: Path, remote: str) -> int:
        """Copy a file or folder into the app's container; return bytes moved."""

    def pull(self, udid: str, bundle_id: str, remote: str, local: Path) -> None:
        """Copy a file out of the app's container."""

    def remove(self, udid: str, bundle_id: str, remote: str) -> None:
        """Delete a file or folder of the app's container (no error when absent)."""

    def launch(self, udid: str, bundle_id: str, arguments: list[str], environment: dict[str, str]) -> int:
        """Start the app (killing a running instance) with arguments and environment; return its pid."""

    def is_running(self, udid: str, pid: int) -> bool:
        """Whether the process is still alive."""

    def kill(self, udid: str, pid: int) -> None:
        """Kill the process (no error when it is gone)."""

    def sample_process(self, udid: str, pid: int) -> ProcessSample | None:
        """The process's memory now, None when it is gone."""

    def crash_reports_since(self, udid: str, since_epoch_s: float, process_name: str) -> list[CrashReport]:
        """Crash and jetsam reports about the process written after `since_epoch_s`."""
