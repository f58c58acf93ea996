"""Run simulated phones in a background thread and connect them to an adb server.

    with SimLab(tmp_path, count=2) as lab:       # phones listening on 127.0.0.1
        lab.connect(adb_port)                      # `adb -P PORT connect 127.0.0.1:N` for each
        set_faults(lab.running[0].phone.root, hang_on_command="benchmark_model")
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.devices.android.sim.daemon import SimPhone, serve
from bench.devices.android.sim.profiles import install
from bench.errors import DeviceError


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a private adb server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def adb_binary() -> str:
    """The adb that adbutils ships (the real Android platform-tools binary)."""
    import adbutils

    return str(adbutils.adb_path())


@dataclass(frozen=True, slots=True)
class RunningPhone:
    phone: SimPhone
    port: int

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"


class SimLab:
    def __init__(self, root: Path, count: int = 1, profile: str = "default", first: int = 1,
                 captures: Path | None = None) -> None:
        self.root = root
        self.captures = captures  # the device dumps a captured profile serves (bench.devices.android.sim.captured)
        self.count = count
        self.first = first  # the number of the first phone: simN, phoneN
        self.profile = profile
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-sim", daemon=True)
        self.servers: list[asyncio.Server] = []
        self.running: list[RunningPhone] = []

    def __enter__(self) -> SimLab:
        self.thread.start()
        for number in range(self.first, self.first + self.count):
            folder = self.root / f"phone{number}"
            install(folder, self.profile, self.captures)
            phone = SimPhone(serial=f"sim-{number}", root=folder)
            server = asyncio.run_coroutine_threadsafe(serve(phone), self.loop).result(timeout=10)
            self.servers.append(server)
            self.running.append(RunningPhone(phone=phone, port=server.sockets[0].getsockname()[1]))
        return self

    @property
    def phones(self) -> list[SimPhone]:
        return [r.phone for r in self.running]

    def connect(self, adb_port: int) -> None:
        """Attach every phone to the adb server on `adb_port` (`adb connect`)."""
        for running in self.running:
            done = subprocess.run([adb_binary(), "-P", str(adb_port), "connect", running.serial],
                                  capture_output=True, text=True, timeout=30)
            if "connected to" not in done.stdout:
                raise RuntimeError(f"adb connect {running.serial} failed: {done.stdout}{done.stderr}")

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        async def shutdown() -> None:
            for server in self.servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def start_adb_server(port: int, tries: int = 3) -> None:
    """`adb -P PORT start-server`, tried again after a pause: adb exits 255 when another adb server starting at the
    same moment on this host holds its lock, which a second try gets past."""
    for attempt in range(1, tries + 1):
        done = subprocess.run([adb_binary(), "-P", str(port), "start-server"], capture_output=True, text=True,
                              timeout=60)
        if done.returncode == 0:
            return
        if attempt == tries:
            raise DeviceError(f"adb start-server on port {port} failed (exit {done.returncode}): "
                              f"{(done.stderr or done.stdout).strip()[-300:]}; is another program on that port?")
        time.sleep(1.0 * attempt)


class AdbServer:
    """A private adb server on its own port, so tests never touch the user's."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __enter__(self) -> AdbServer:
        start_adb_server(self.port)
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run([adb_binary(), "-P", str(self.port), "kill-server"], capture_output=True, timeout=60)
