"""The iOS device port over USB with pymobiledevice3 (the `ios` extra; GPL-3.0, imported nowhere else).

pymobiledevice3 is asyncio; the port runs one event loop in a thread of its own and keeps, per
phone, the lockdown client and (iOS 17+) the RSD tunnel open across calls. What each call uses:

- discovery: usbmuxd `ListDevices` (`USBMUXD_SOCKET_ADDRESS=host:port` reaches a remote usbmuxd),
  then lockdown `GetValue` without pairing for name, product type and version;
- preflight: lockdown session (pairing), `DeveloperModeStatus`, the image mounter, the tunnel,
  the diagnostics relay's `IOPMPowerSource` (battery level, temperature, charging);
- the iOS 17+ tunnel: tunneld's when it runs (`pymobiledevice3 remote tunneld`), else on 17.4+ a
  userspace tunnel opened here (no root);
- install: installation_proxy; files: house_arrest (AFC in the app's container);
- launch / kill / is running: DVT process control and device info; memory: sysmontap's
  `physFootprint` for the pid, sampled in the background from launch to exit;
- crash and jetsam reports: the crash report mover's folder, pulled when the app dies.

Only discovery has been exercised here (through a fake usbmuxd); everything past it needs an
iPhone, and is written from pymobiledevice3's sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bench.devices.ios.port import (
    CrashReport,
    InstalledApp,
    IOSFault,
    IOSPortError,
    IPhone,
    Preflight,
    ProcessSample,
)
from bench.devices.ios.reports import jetsam_killed

log = logging.getLogger(__name__)
T = TypeVar("T")
CALL_TIMEOUT_S = 600.0  # an install or a large push can take minutes
SAMPLE_INTERVAL_MS = 1000
SAMPLED_PROCESS_ATTRIBUTES = ["pid", "physFootprint"]

# Every pymobiledevice3 name the port uses: (module, name, what it must be, keyword arguments the port passes).
# "coroutine": awaited (decorators unwrapped); "async generator": iterated with `async for`; "class": called;
# "property" / "attribute": read on an instance. tests/test_ios_library_boundary.py checks each against the
# installed release, so a release that renames, moves or un-awaits one fails there, not on a phone.
LIBRARY_USE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("pymobiledevice3.usbmux", "list_devices", "coroutine", ("usbmux_address",)),
    ("pymobiledevice3.lockdown", "create_using_usbmux", "coroutine", ("serial", "autopair", "usbmux_address")),
    ("pymobiledevice3.lockdown", "LockdownClient.get_value", "coroutine", ("domain", "key")),
    ("pymobiledevice3.lockdown", "LockdownClient.get_developer_mode_status", "coroutine", ()),
    ("pymobiledevice3.lockdown", "LockdownClient.close", "coroutine", ()),
    ("pymobiledevice3.lockdown", "LockdownClient.product_version", "property", ()),
    ("pymobiledevice3.lockdown", "LockdownClient.paired", "attribute", ()),
    ("pymobiledevice3.lockdown", "LockdownClient.all_values", "attribute", ()),
    ("pymobiledevice3.tunneld.api", "get_tunneld_device_by_udid", "coroutine", ()),
    ("pymobiledevice3.remote.userspace_tunnel", "UserspaceRsdTunnel", "class", ("serial", "autopair")),
    ("pymobiledevice3.remote.userspace_tunnel", "UserspaceRsdTunnel.aopen", "coroutine", ()),
    ("pymobiledevice3.remote.userspace_tunnel", "UserspaceRsdTunnel.aclose", "coroutine", ()),
    ("pymobiledevice3.services.diagnostics", "DiagnosticsService", "async context manager", ()),
    ("pymobiledevice3.services.diagnostics", "DiagnosticsService.get_battery", "coroutine", ()),
    ("pymobiledevice3.services.mobile_image_mounter", "MobileImageMounterService", "async context manager", ()),
    ("pymobiledevice3.services.mobile_image_mounter", "MobileImageMounterService.is_image_mounted", "coroutine", ()),
    ("pymobiledevice3.services.mobile_image_mounter", "auto_mount", "coroutine", ()),
    ("pymobiledevice3.exceptions", "AlreadyMountedError", "class", ()),
    ("pymobiledevice3.services.installation_proxy", "InstallationProxyService", "async context manager", ()),
    ("pymobiledevice3.services.installation_proxy", "InstallationProxyService.get_apps", "coroutine",
     ("bundle_identifiers",)),
    ("pymobiledevice3.services.installation_proxy", "InstallationProxyService.install_from_local", "coroutine", ()),
    ("pymobiledevice3.services.house_arrest", "HouseArrestService.create", "coroutine", ()),
    ("pymobiledevice3.services.house_arrest", "HouseArrestService", "async context manager", ()),
    ("pymobiledevice3.services.afc", "AfcService.exists", "coroutine", ()),
    ("pymobiledevice3.services.afc", "AfcService.listdir", "coroutine", ()),
    ("pymobiledevice3.services.afc", "AfcService.makedirs", "coroutine", ()),
    ("pymobiledevice3.services.afc", "AfcService.push", "coroutine", ("progress_bar",)),
    ("pymobiledevice3.services.afc", "AfcService.get_file_contents", "coroutine", ()),
    ("pymobiledevice3.services.afc", "AfcService.rm", "coroutine", ("force",)),
    ("pymobiledevice3.services.afc", "AfcService.stat", "coroutine", ()),
    ("pymobiledevice3.services.afc", "AfcService.aclose", "coroutine", ()),
    ("pymobiledevice3.services.dvt.instruments.dvt_provider", "DvtProvider", "class", ()),
    ("pymobiledevice3.services.dvt.instruments.dvt_provider", "DvtProvider.connect", "coroutine", ()),
    ("pymobiledevice3.services.dvt.instruments.dvt_provider", "DvtProvider.close", "coroutine", ()),
    ("pymobiledevice3.services.dvt.instruments.process_control", "ProcessControl", "async context manager", ()),
    ("pymobiledevice3.services.dvt.instruments.process_control", "ProcessControl.launch", "coroutine",
     ("arguments", "kill_existing", "environment")),
    ("pymobiledevice3.services.dvt.instruments.process_control", "ProcessControl.kill", "coroutine", ()),
    ("pymobiledevice3.services.dvt.instruments.device_info", "DeviceInfo", "async context manager", ()),
    ("pymobiledevice3.services.dvt.instruments.device_info", "DeviceInfo.proclist", "coroutine", ()),
    ("pymobiledevice3.services.dvt.instruments.sysmontap", "Sysmontap", "async context manager",
     ("dvt", "process_attributes", "system_attributes", "interval_ms")),
    ("pymobiledevice3.services.dvt.instruments.sysmontap", "Sysmontap.iter_processes", "async generator", ()),
    ("pymobiledevice3.services.crash_reports", "CrashReportsManager", "async context manager", ()),
    ("pymobiledevice3.services.crash_reports", "CrashReportsManager.flush", "coroutine", ()),
    ("pymobiledevice3.services.crash_reports", "CrashReportsManager.ls", "coroutine", ("depth",)),
    ("pymobiledevice3.services.crash_reports", "CrashReportsManager.afc", "attribute", ()),
)

# pymobiledevice3 exception name -> the fault a user can fix (looked up by name: the set moves between releases)
_FAULT_OF = {
    "NoDeviceConnectedError": IOSFault.NOT_CONNECTED, "DeviceNotFoundError": IOSFault.NOT_CONNECTED,
    "ConnectionFailedToUsbmuxdError": IOSFault.NOT_CONNECTED, "ConnectionFailedError": IOSFault.NOT_CONNECTED,
    "MuxException": IOSFault.NOT_CONNECTED,
    "PasswordRequiredError": IOSFault.LOCKED,
    "NotTrustedError": IOSFault.NOT_TRUSTED, "PairingError": IOSFault.NOT_TRUSTED,
    "NotPairedError": IOSFault.NOT_TRUSTED, "UserDeniedPairingError": IOSFault.NOT_TRUSTED,
    "FatalPairingError": IOSFault.NOT_TRUSTED, "InvalidHostIDError": IOSFault.NOT_TRUSTED,
    "DeveloperModeIsNotEnabledError": IOSFault.DEVELOPER_MODE_OFF, "DeveloperModeError": IOSFault.DEVELOPER_MODE_OFF,
    "NotMountedError": IOSFault.DISK_IMAGE_NOT_MOUNTED,
    "TunneldConnectionError": IOSFault.TUNNEL_MISSING, "RSDRequiredError": IOSFault.TUNNEL_MISSING,
    "AppNotInstalledError": IOSFault.APP_NOT_INSTALLED,
    "AfcException": IOSFault.TRANSFER, "ConnectionTerminatedError": IOSFault.TRANSFER,
}
_SIGNING = re.compile(r"ApplicationVerificationFailed|signature|provisioning|entitlement", re.IGNORECASE)
_LOCKED = re.compile(r"\blocked\b", re.IGNORECASE)


def fault_of(error: BaseException) -> IOSPortError | None:
    """The IOSPortError for a pymobiledevice3 exception, None for one no user can fix."""
    names = [cls.__name__ for cls in type(error).__mro__]
    text = str(error)
    if "AppInstallError" in names and _SIGNING.search(text):
        return IOSPortError(IOSFault.SIGNING, text[:200])
    if "LaunchingApplicationError" in names and _LOCKED.search(text):
        return IOSPortError(IOSFault.LOCKED, text[:200])
    for name in names:
        if name in _FAULT_OF:
            return IOSPortError(_FAULT_OF[name], text[:200] or name)
    return None


# what a dead connection raises: the phone was unplugged, slept, or its lockdown session ended
_BROKEN = {"ConnectionTerminatedError", "ConnectionAbortedError", "ConnectionResetError", "BrokenPipeError",
           "IncompleteReadError", "ConnectionFailedError", "StreamClosedError"}


def is_broken_connection(error: BaseException) -> bool:
    return any(cls.__name__ in _BROKEN for cls in type(error).__mro__)


def _import_library() -> None:
    """Import what the port uses here, in the caller's thread: importing (compiling) modules in the port's
    thread while the main thread imports too trips CPython 3.11's AST recursion check."""
    import importlib

    for name in ("packaging.version", "pymobiledevice3.usbmux", "pymobiledevice3.lockdown",
                 "pymobiledevice3.exceptions", "pymobiledevice3.tunneld.api",
                 "pymobiledevice3.services.diagnostics", "pymobiledevice3.services.mobile_image_mounter",
                 "pymobiledevice3.services.installation_proxy", "pymobiledevice3.services.house_arrest",
                 "pymobiledevice3.services.crash_reports", "pymobiledevice3.services.dvt.instruments.dvt_provider",
                 "pymobiledevice3.services.dvt.instruments.process_control",
                 "pymobiledevice3.services.dvt.instruments.device_info",
                 "pymobiledevice3.services.dvt.instruments.sysmontap"):
        importlib.import_module(name)


class Pmd3Port:
    """IOSPort over pymobiledevice3. `usbmux_address` overrides USBMUXD_SOCKET_ADDRESS."""

    def __init__(self, usbmux_address: str | None = None) -> None:
        _import_library()
        self.usbmux_address = usbmux_address or os.environ.get("USBMUXD_SOCKET_ADDRESS")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pymobiledevice3", daemon=True)
        self._thread.start()
        self._lockdown: dict[str, Any] = {}
        self._rsd: dict[str, Any] = {}
        self._tunnels: dict[str, Any] = {}
        self._dvt: dict[str, Any] = {}
        self._samplers: dict[int, tuple[asyncio.Future[None], dict[str, float]]] = {}

    def close(self) -> None:
        """Close the phones' connections and tunnels, then the port's loop and thread."""
        async def run() -> None:
            for task, _ in self._samplers.values():
                task.cancel()
            for udid in {*self._dvt, *self._lockdown, *self._rsd, *self._tunnels}:
                await self._close_phone(udid)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    # --- plumbing -----------------------------------------------------------------------------
    def _call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout_s: float = CALL_TIMEOUT_S,
              udid: str | None = None) -> T:
        """Run a coroutine on the port's loop; turn the library's failures into IOSPortError.

        For a call on one phone (`udid`), a connection that broke (the phone was unplugged and plugged
        back, its lockdown or RSD connection is dead) is opened afresh and the call tried once more.
        """
        for attempt in (1, 2):
            future = asyncio.run_coroutine_threadsafe(make(), self._loop)
            try:
                return future.result(timeout_s)
            except IOSPortError:
                raise
            except TimeoutError as exc:
                future.cancel()
                raise IOSPortError(IOSFault.HUNG, f"no answer in {timeout_s:.0f} s") from exc
            except Exception as exc:  # pymobiledevice3 raises its own hierarchy, OSError and asyncio errors
                if udid is not None and attempt == 1 and is_broken_connection(exc):
                    log.info("%s: connection broke (%s); opening it again", udid, type(exc).__name__)
                    self._forget(udid)
                    continue
                translated = fault_of(exc)
                if translated is None:
                    raise
                raise translated from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _close_phone(self, udid: str) -> None:
        """Drop a phone's cached DVT, lockdown, RSD and tunnel, closing what still can be."""
        for cache in (self._dvt, self._lockdown, self._rsd):
            if (closeable := cache.pop(udid, None)) is not None:
                with contextlib.suppress(Exception):
                    await closeable.close()
        if (tunnel := self._tunnels.pop(udid, None)) is not None:
            with contextlib.suppress(Exception):
                await tunnel.aclose()

    def _forget(self, udid: str) -> None:
        """Drop a phone's connections, so the next call opens them afresh."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_phone(udid), self._loop).result(30)

    async def _lockdown_for(self, udid: str, *, paired: bool = True) -> Any:
        from pymobiledevice3.lockdown import create_using_usbmux

        client = self._lockdown.get(udid)
        if client is None:
            client = await create_using_usbmux(serial=udid, autopair=False, usbmux_address=self.usbmux_address)
            self._lockdown[udid] = client
        if paired and not client.paired:
            raise IOSPortError(IOSFault.NOT_TRUSTED, "this host has no pairing record the iPhone accepts")
        return client

    async def _provider(self, udid: str) -> Any:
        """What DVT and the iOS 17 image mounter talk to: the RSD tunnel on 17+, lockdown before."""
        from packaging.version import Version

        lockdown = await self._lockdown_for(udid)
        if Version(lockdown.product_version) < Version("17.0"):
            return lockdown
        if udid in self._rsd:
            return self._rsd[udid]
        from pymobiledevice3.tunneld.api import get_tunneld_device_by_udid

        rsd = None
        with contextlib.suppress(Exception):  # no tunneld running: try our own tunnel below
            rsd = await get_tunneld_device_by_udid(udid)
        if rsd is None and Version(lockdown.product_version) >= Version("17.4"):
            from pymobiledevice3.remote.userspace_tunnel import UserspaceRsdTunnel

            tunnel = UserspaceRsdTunnel(serial=udid, autopair=False)
            rsd = await tunnel.aopen()
            self._tunnels[udid] = tunnel
        if rsd is None:
            raise IOSPortError(IOSFault.TUNNEL_MISSING, f"iOS {lockdown.product_version} and no tunneld tunnel")
        self._rsd[udid] = rsd
        return rsd

    # --- IOSPort ------------------------------------------------------------------------------
    def list_devices(self) -> list[IPhone]:
        async def run() -> list[IPhone]:
            from pymobiledevice3 import usbmux
            from pymobiledevice3.lockdown import create_using_usbmux

            phones = []
            for mux in await usbmux.list_devices(usbmux_address=self.usbmux_address):
                connection = "usb" if mux.is_usb else "network"
                try:
                    client = await create_using_usbmux(serial=mux.serial, autopair=False,
                                                       usbmux_address=self.usbmux_address)
                except Exception as exc:  # one phone that will not talk must not hide the others
                    fault = fault_of(exc)
                    phones.append(IPhone(udid=mux.serial, name="?", product_type="?", ios_version="?",
                                         connection=connection, state=fault.fault.value if fault else "error"))
                    continue
                values = client.all_values
                phones.append(IPhone(udid=mux.serial, name=str(values.get("DeviceName", "?")),
                                     product_type=str(values.get("ProductType", "?")),
                                     ios_version=str(values.get("ProductVersion", "?")),
                                     build=values.get("BuildVersion"), connection=connection,
                                     cpu_architecture=values.get("CPUArchitecture"),
                                     state="online" if client.paired else IOSFault.NOT_TRUSTED.value))
                await client.close()
            return phones

        return self._call(run, timeout_s=60)

    def preflight(self, udid: str) -> Preflight:
        async def run() -> Preflight:
            from packaging.version import Version
            from pymobiledevice3.services.diagnostics import DiagnosticsService
            from pymobiledevice3.services.mobile_image_mounter import MobileImageMounterService

            lockdown = await self._lockdown_for(udid)
            version = Version(lockdown.product_version)
            developer_mode = await lockdown.get_developer_mode_status() if version >= Version("16.0") else None
            tunnel: bool | None = None
            if version >= Version("17.0"):
                try:
                    await self._provider(udid)
                    tunnel = True
                except IOSPortError:
                    tunnel = False
            async with MobileImageMounterService(lockdown) as mounter:
                mounted = await mounter.is_image_mounted("Personalized" if version >= Version("17.0") else "Developer")
            battery: dict[str, Any] = {}
            with contextlib.suppress(Exception):  # a phone without the diagnostics relay still runs jobs
                async with DiagnosticsService(lockdown) as diagnostics:
                    battery = await diagnostics.get_battery() or {}
            temperature = battery.get("Temperature")  # hundredths of a degree Celsius
            celsius = temperature / 100.0 if isinstance(temperature, int | float) else None
            # lockdown's PasswordProtected: true while the screen is locked behind a passcode
            locked = bool(await lockdown.get_value(key="PasswordProtected"))
            return Preflight(locked=locked, developer_mode=developer_mode, disk_image_mounted=bool(mounted),
                             tunnel=tunnel, battery_percent=battery.get("CurrentCapacity"),
                             battery_temperature_c=celsius,
                             charging=battery.get("IsCharging"))

        return self._call(run, timeout_s=120, udid=udid)

    def ensure_disk_image(self, udid: str) -> None:
        async def run() -> None:
            from pymobiledevice3.exceptions import AlreadyMountedError
            from pymobiledevice3.services.mobile_image_mounter import auto_mount

            lockdown = await self._lockdown_for(udid)
            try:
                await auto_mount(lockdown)
            except AlreadyMountedError:
                return
            except Exception as exc:
                if fault_of(exc) is None:
                    raise IOSPortError(IOSFault.DISK_IMAGE_NOT_MOUNTED, str(exc)[:200]) from exc
                raise

        self._call(run, udid=udid)

    def installed_app(self, udid: str, bundle_id: str) -> InstalledApp | None:
        async def run() -> InstalledApp | None:
            from pymobiledevice3.services.installation_proxy import InstallationProxyService

            async with InstallationProxyService(await self._lockdown_for(udid)) as proxy:
                apps = await proxy.get_apps(bundle_identifiers=[bundle_id])
            info = apps.get(bundle_id)
            if info is None:
                return None
            return InstalledApp(bundle_id=bundle_id, version=str(info.get("CFBundleShortVersionString", "")),
                                build=str(info.get("CFBundleVersion", "")))

        return self._call(run, udid=udid)

    def install(self, udid: str, ipa: Path) -> None:
        async def run() -> None:
            from pymobiledevice3.services.installation_proxy import InstallationProxyService

            async with InstallationProxyService(await self._lockdown_for(udid)) as proxy:
                await proxy.install_from_local(ipa)

        self._call(run, udid=udid)

    async def _container(self, udid: str, bundle_id: str) -> Any:
        from pymobiledevice3.services.house_arrest import HouseArrestService

        return await HouseArrestService.create(await self._lockdown_for(udid), bundle_id)

    def _in_container(self, udid: str, bundle_id: str, action: Callable[[Any], Awaitable[T]]) -> T:
        async def run() -> T:
            # `async with` exits through AfcService.aclose(), which also stops the AFC reader task
            async with await self._container(udid, bundle_id) as afc:
                return await action(afc)

        return self._call(run, udid=udid)

    def list_files(self, udid: str, bundle_id: str, folder: str) -> list[str]:
        async def action(afc: Any) -> list[str]:
            if not await afc.exists(folder):
                return []
            return sorted(name for name in await afc.listdir(folder) if name not in (".", ".."))

        return self._in_container(udid, bundle_id, action)

    def push(self, udid: str, bundle_id: str, local: Path, remote: str) -> int:
        async def action(afc: Any) -> int:
            parent, name = remote.rsplit("/", 1)
            await afc.makedirs(parent)
            if not local.is_dir():
                await afc.push(str(local), remote, progress_bar=False)
                return local.stat().st_size
            # AFC copies a folder into <remote>/<its own name>: give it the name it must have there
            with tempfile.TemporaryDirectory(prefix="bench-push-") as staging:
                link = Path(staging) / name
                link.symlink_to(local.resolve(), target_is_directory=True)
                await afc.push(str(link), parent, progress_bar=False)
            return sum(p.stat().st_size for p in local.rglob("*") if p.is_file())

        return self._in_container(udid, bundle_id, action)

    def pull(self, udid: str, bundle_id: str, remote: str, local: Path) -> None:
        async def action(afc: Any) -> None:
            local.write_bytes(await afc.get_file_contents(remote))

        self._in_container(udid, bundle_id, action)

    def remove(self, udid: str, bundle_id: str, remote: str) -> None:
        async def action(afc: Any) -> None:
            if await afc.exists(remote):
                await afc.rm(remote, force=True)

        self._in_container(udid, bundle_id, action)

    async def _dvt_for(self, udid: str) -> Any:
        """The phone's one DVT connection, opened at its first use and kept for the run: launch, the
        process list, kill and the memory sampler each open a channel on it, not a connection of their own."""
        from pymobiledevice3.services.dvt.instruments.dvt_provider import DvtProvider

        if udid not in self._dvt:
            dvt = DvtProvider(await self._provider(udid))
            await dvt.connect()
            self._dvt[udid] = dvt
        return self._dvt[udid]

    def launch(self, udid: str, bundle_id: str, arguments: list[str], environment: dict[str, str]) -> int:
        async def run() -> int:
            from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl

            async with ProcessControl(await self._dvt_for(udid)) as control:
                pid = int(await control.launch(bundle_id, arguments=arguments, kill_existing=True,
                                               environment=environment))
            peak: dict[str, float] = {}
            task = asyncio.ensure_future(self._sample(udid, pid, peak))
            self._samplers[pid] = (task, peak)
            return pid

        return self._call(run, timeout_s=120, udid=udid)

    async def _sample(self, udid: str, pid: int, peak: dict[str, float]) -> None:
        """Follow the pid's physFootprint with sysmontap until it exits (or the sampler is cancelled).

        Sysmontap has no per-process filter: every sample lists every process, so only the two process
        attributes read here are asked for (not the device's full list, which `Sysmontap.create` takes),
        once every SAMPLE_INTERVAL_MS. The runner reads its own footprint every 5 ms in process; this
        reading is the host's check on it, and the last word when the app is killed.
        """
        from pymobiledevice3.services.dvt.instruments.sysmontap import Sysmontap

        with contextlib.suppress(asyncio.CancelledError, Exception):  # memory is a sample, never a job failure
            tap = Sysmontap(await self._dvt_for(udid), SAMPLED_PROCESS_ATTRIBUTES, [], interval_ms=SAMPLE_INTERVAL_MS)
            async with tap:
                async for processes in tap.iter_processes():
                    for process in processes:
                        if process.get("pid") == pid and process.get("physFootprint") is not None:
                            peak["bytes"] = max(peak.get("bytes", 0.0), float(process["physFootprint"]))
                            peak["at"] = time.monotonic()

    def is_running(self, udid: str, pid: int) -> bool:
        async def run() -> bool:
            from pymobiledevice3.services.dvt.instruments.device_info import DeviceInfo

            async with DeviceInfo(await self._dvt_for(udid)) as info:
                running = any(int(p.get("pid", -1)) == pid for p in await info.proclist())
            if not running and pid in self._samplers:
                self._samplers[pid][0].cancel()
            return running

        return self._call(run, timeout_s=60, udid=udid)

    def kill(self, udid: str, pid: int) -> None:
        async def run() -> None:
            from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl

            with contextlib.suppress(Exception):  # already gone
                async with ProcessControl(await self._dvt_for(udid)) as control:
                    await control.kill(pid)
            if pid in self._samplers:
                self._samplers[pid][0].cancel()

        self._call(run, timeout_s=60, udid=udid)

    def sample_process(self, udid: str, pid: int) -> ProcessSample | None:
        _, peak = self._samplers.get(pid, (None, {}))
        return ProcessSample(phys_footprint_bytes=int(peak["bytes"])) if "bytes" in peak else None

    def crash_reports_since(self, udid: str, since_epoch_s: float, process_name: str) -> list[CrashReport]:
        async def run() -> list[CrashReport]:
            from pymobiledevice3.services.crash_reports import CrashReportsManager

            reports = []
            async with CrashReportsManager(await self._lockdown_for(udid)) as manager:
                await manager.flush()  # the crash mover moves pending reports into the folder first
                for name in await manager.ls("/", depth=1):
                    base = name.rsplit("/", 1)[-1]
                    if not (base.startswith(process_name) or base.startswith("JetsamEvent")):
                        continue
                    stat = await manager.afc.stat(name)
                    modified = stat.get("st_mtime")
                    when = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
                    if when < since_epoch_s:
                        continue
                    text = (await manager.afc.get_file_contents(name)).decode(errors="replace")
                    jetsam = base.startswith("JetsamEvent")
                    if jetsam and not jetsam_killed(text, process_name):
                        continue  # the runner was only among the resident processes
                    reports.append(CrashReport(name=base, text=text, killed_for_memory=jetsam))
            return reports

        return self._call(run, timeout_s=120, udid=udid)
