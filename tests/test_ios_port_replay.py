"""Service answers in pymobiledevice3's documented shapes, replayed through bench's port (pmd3_port.py)
in place of a phone: the installation lookup (`get_apps`: bundle id -> Info.plist values), the crash
report folder (`ls`, `stat`, file contents), sysmontap's process rows (one dict of the asked attributes
per process per sample), and what the port's sampling costs: DVT connections, channels, samples, bytes."""

from __future__ import annotations

import asyncio
import json
import plistlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

pytest.importorskip("pymobiledevice3", reason="the ios extra (pymobiledevice3) is not installed")

from tests.iosfake import JETSAM_KILLED_RUNNER, JETSAM_RUNNER_RESIDENT

UDID = "00008110-001A2B3C4D5E801E"
PID = 412
PROCESSES = 300  # an iPhone lists a few hundred processes in every sysmontap sample


def _size(rows: list[list[Any]]) -> int:
    """A sample's size as a binary plist: `{"Processes": {pid: [values...]}}`, as sysmontap sends it."""
    return len(plistlib.dumps({"Processes": {str(r[0]): r for r in rows}}, fmt=plistlib.FMT_BINARY))


class Counts:
    def __init__(self) -> None:
        self.connections = self.channels = self.samples = self.bytes = self.bytes_every_attribute = 0
        self.asked: list[Any] = []
        self.flushed_before_ls: bool | None = None
        self.flushed = False


class FakeLockdown:
    paired = True
    product_version = "16.7.2"  # before iOS 17: DVT over lockdown, no tunnel
    all_values: ClassVar[dict[str, str]] = {"ProductVersion": "16.7.2"}

    async def close(self) -> None:
        pass

    async def get_value(self, domain: str | None = None, key: str | None = None) -> Any:
        return {"PasswordProtected": False}.get(key or "")


class Channel:
    """A DVT channel: entered and left on the phone's one connection."""

    counts: Counts

    def __init__(self, dvt: Any, *args: Any, **kwargs: Any) -> None:
        assert dvt.connected, "a channel on a connection that was never opened"
        self.counts.channels += 1
        self.dvt = dvt

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Counts]]:
    import pymobiledevice3.lockdown as lockdown
    import pymobiledevice3.services.crash_reports as crash_reports
    import pymobiledevice3.services.dvt.instruments.device_info as device_info
    import pymobiledevice3.services.dvt.instruments.dvt_provider as dvt_provider
    import pymobiledevice3.services.dvt.instruments.process_control as process_control
    import pymobiledevice3.services.dvt.instruments.sysmontap as sysmontap
    import pymobiledevice3.services.installation_proxy as installation_proxy

    from bench.devices.ios.pmd3_port import Pmd3Port

    counts = Counts()
    Channel.counts = counts
    running = {"polls": 0}

    async def create_using_usbmux(**kwargs: Any) -> FakeLockdown:
        return FakeLockdown()

    class Dvt:
        def __init__(self, provider: Any) -> None:
            self.connected = False

        async def connect(self) -> None:
            counts.connections += 1
            self.connected = True

        async def close(self) -> None:
            self.connected = False

    class Control(Channel):
        async def launch(self, bundle_id: str, **kwargs: Any) -> int:
            return PID

        async def kill(self, pid: int) -> None:
            pass

    class Info(Channel):
        async def proclist(self) -> list[dict[str, Any]]:
            running["polls"] += 1
            return [{"pid": PID, "name": "BenchRunner"}] if running["polls"] <= 4 else []

    class Tap(Channel):
        def __init__(self, dvt: Any, process_attributes: list[str], system_attributes: list[str],
                     interval_ms: int = 500) -> None:
            super().__init__(dvt)
            counts.asked.append((process_attributes, system_attributes, interval_ms))
            self.attributes = process_attributes

        async def iter_processes(self) -> AsyncIterator[list[dict[str, Any]]]:
            for footprint_mb in (50, 64, 63):  # three samples, then the app is gone
                rows = [{"pid": pid, "physFootprint": (footprint_mb if pid == PID else 5) * 2**20,
                         "name": f"process{pid}", "cpuUsage": 0.1, "memVirtualSize": 2**32}
                        for pid in range(PID, PID + PROCESSES)]
                sent = [[row[a] for a in self.attributes] for row in rows]  # what the device sends: the asked ones
                counts.samples += 1
                counts.bytes += _size(sent)
                counts.bytes_every_attribute += _size([list(row.values()) for row in rows])
                yield [dict(zip(self.attributes, values, strict=True)) for values in sent]
                await asyncio.sleep(0.01)

    files = {"/JetsamEvent-2026-12-03-101500.ips": JETSAM_RUNNER_RESIDENT,
             "/JetsamEvent-2026-12-03-101502.ips": JETSAM_KILLED_RUNNER,
             "/BenchRunner-2026-12-03-090000.ips": "Exception Type: EXC_CRASH\n",  # before the job: left out
             "/Assistant/x.ips": ""}
    when = {"/BenchRunner-2026-12-03-090000.ips": datetime(2026, 12, 3, 9, 0, tzinfo=UTC)}

    class Afc:
        async def stat(self, name: str) -> dict[str, Any]:
            return {"st_mtime": when.get(name, datetime(2026, 12, 3, 10, 15, tzinfo=UTC))}

        async def get_file_contents(self, name: str) -> bytes:
            return files[name].encode()

    class Reports:
        def __init__(self, lockdown: Any) -> None:
            self.afc = Afc()

        async def __aenter__(self) -> Any:
            return self

        async def __aexit__(self, *exc: object) -> None:
            pass

        async def flush(self) -> None:
            counts.flushed = True

        async def ls(self, path: str = "/", depth: int = 1) -> list[str]:
            counts.flushed_before_ls = counts.flushed
            return list(files)

    class Proxy:
        def __init__(self, lockdown: Any) -> None:
            pass

        async def __aenter__(self) -> Any:
            return self

        async def __aexit__(self, *exc: object) -> None:
            pass

        async def get_apps(self, bundle_identifiers: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
            # installation_proxy's Browse/Lookup answer: bundle id -> the app's Info.plist values
            return {b: {"CFBundleIdentifier": b, "CFBundleShortVersionString": "1.0", "CFBundleVersion": "7",
                        "ApplicationType": "User"} for b in bundle_identifiers or [] if b.endswith("BenchRunner")}

    for module, name, value in ((lockdown, "create_using_usbmux", create_using_usbmux),
                                (dvt_provider, "DvtProvider", Dvt), (process_control, "ProcessControl", Control),
                                (device_info, "DeviceInfo", Info), (sysmontap, "Sysmontap", Tap),
                                (crash_reports, "CrashReportsManager", Reports),
                                (installation_proxy, "InstallationProxyService", Proxy)):
        monkeypatch.setattr(module, name, value)
    port = Pmd3Port(usbmux_address="127.0.0.1:1")
    try:
        yield port, counts
    finally:
        port.close()


def test_a_job_opens_one_dvt_connection_and_samples_two_attributes(replay: tuple[Any, Counts]) -> None:
    import time

    port, counts = replay
    pid = port.launch(UDID, "dev.ondevice-bench.BenchRunner", ["--job-id", "j"], {})
    polls = 0
    while port.is_running(UDID, pid):
        polls += 1
        time.sleep(0.02)
    port.kill(UDID, pid)
    sample = port.sample_process(UDID, pid)
    assert sample is not None and sample.phys_footprint_bytes == 64 * 2**20  # the highest of the samples
    # one connection for launch, every poll, the sampler and the kill; a channel each
    assert counts.connections == 1 and counts.channels == 1 + (polls + 1) + 1 + 1
    assert counts.asked == [(["pid", "physFootprint"], [], 1000)]
    per_sample, every = counts.bytes / counts.samples, counts.bytes_every_attribute / counts.samples
    print(f"\nsysmontap: {counts.samples} samples of {PROCESSES} processes, {per_sample:.0f} bytes each with two "
          f"attributes ({every:.0f} with this fake's five); DVT connections {counts.connections}, channels "
          f"{counts.channels} for {polls} polls")
    assert per_sample < every  # every process is sent each time: asking for two attributes is what trims it


def test_crash_reports_are_flushed_first_and_a_jetsam_counts_only_when_it_killed_the_runner(
        replay: tuple[Any, Counts]) -> None:
    port, counts = replay
    since = datetime(2026, 12, 3, 10, 0, tzinfo=UTC).timestamp()
    reports = port.crash_reports_since(UDID, since, "BenchRunner")
    assert counts.flushed_before_ls is True
    assert [(r.name, r.killed_for_memory) for r in reports] == [("JetsamEvent-2026-12-03-101502.ips", True)]
    assert json.loads(reports[0].text.split("\n", 1)[1])["processes"][0]["reason"] == "per-process-limit"


def test_the_installation_lookup_and_the_lock_state_are_read(replay: tuple[Any, Counts]) -> None:
    port, _ = replay
    app = port.installed_app(UDID, "dev.ondevice-bench.BenchRunner")
    assert app is not None and (app.version, app.build) == ("1.0", "7")
    assert port.installed_app(UDID, "dev.other.App") is None
