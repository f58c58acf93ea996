"""A simulated Android phone: the device side of ADB on 127.0.0.1, for the real `adb` server.

    adb connect 127.0.0.1:PORT     # then adbutils, the adb server and bench's backend run for real

The phone's filesystem is a sandbox folder. Shell commands run in the real `/bin/sh` with the
phone's absolute paths (`/data/...`, `/sdcard/...`, `/sys/...`) mapped into the sandbox, and with
`getprop`, `dumpsys` and `cmd` answered from the phone's profile; a process's own `/proc/<pid>` is
the host's, so sampling a running tool's memory reads real numbers. Services: `shell:` (v1),
`shell,v2,...:` (stdout, stderr, exit code), `exec:`, `sync:` (STAT, LIST, SEND, RECV, QUIT).
Faults for tests (`SimFaults`) break the link, hang, fill the disk or heat the phone on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from bench.devices.android.sim import protocol as p
from bench.devices.android.sim.profiles import FEATURES_FILE

log = logging.getLogger(__name__)

_MAPPED_ROOTS = ("data", "sdcard", "sys", "system", "vendor", "storage")
_PATH = re.compile(r"(?<![\w./-])/(" + "|".join(_MAPPED_ROOTS) + r")(?=/|\b)")
_SYNC_CHUNK = 64 * 1024


@dataclass(slots=True)
class SimFaults:
    """What to break, for the fault-injection tests."""

    disconnect_on_push_bytes: int | None = None  # drop the link once this many bytes were pushed
    disconnect_on_command: str | None = None  # drop the link when a shell command contains this
    # unplugged for good: drop the link when a shell command contains this, then refuse every new connection
    # (adb's reconnect too) until the faults are cleared
    gone_on_command: str | None = None
    gone: bool = False
    hang_on_command: str | None = None  # never answer a shell command containing this
    disk_free_bytes: int | None = None  # SEND fails past this many bytes ("No space left on device")
    max_payload: int | None = None  # a slow link: advertise a small maximum message size
    crash_on_command: str | None = None  # the command dies like a segfaulting tool (exit 139)
    # the phone's benchmark_model waits this long in every inference: a slower phone (or a slower build),
    # and a tool whose time is mostly waiting from the host's point of view, as a real phone's is
    invoke_delay_ms: float | None = None
    # the tool's Nth inference never returns (a GPU driver that deadlocks): it has printed its start lines
    hang_in_invoke: int | None = None


FAULTS_FILE = ".sim/faults.json"  # faults set from outside the daemon's process (tests, `bench sim`)


@dataclass(slots=True)
class SimPhone:
    serial: str
    root: Path
    own_faults: SimFaults = field(default_factory=SimFaults)
    pushed_bytes: int = 0

    @property
    def faults(self) -> SimFaults:
        """The faults set in this process, or else those in the sandbox's faults file."""
        try:
            data = json.loads((self.root / FAULTS_FILE).read_text())
        except (OSError, ValueError):
            return self.own_faults
        return SimFaults(**{k: v for k, v in data.items() if k in SimFaults.__dataclass_fields__})

    def consume(self, name: str) -> None:
        """A link drops once: clear a disconnect fault after it fired, so the phone can come back."""
        setattr(self.own_faults, name, None)
        path = self.root / FAULTS_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        data.pop(name, None)
        path.write_text(json.dumps(data))

    def set_fault(self, name: str, value: object) -> None:
        setattr(self.own_faults, name, value)
        path = self.root / FAULTS_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        data[name] = value
        path.write_text(json.dumps(data))

    def host_path(self, device_path: str) -> Path:
        if _PATH.match(device_path):
            return self.root / device_path.lstrip("/")
        return Path(device_path)

    def map_command(self, command: str) -> str:
        return _PATH.sub(lambda m: f"{self.root}/{m.group(1)}", command)

    def banner(self) -> bytes:
        props = read_props(self.root)
        keys = ("ro.product.name", "ro.product.model", "ro.product.device")
        parts = [f"{k}={props.get(k, '')}" for k in keys]
        return ("device::" + ";".join(parts) + f";features={','.join(sorted(self.features))}").encode()

    @property
    def features(self) -> set[str]:
        """adbd's features: only what is implemented (sync v1, no stat_v2 / sendrecv_v2), shell_v2 unless the
        profile is of an Android 6 phone."""
        try:
            return set((self.root / FEATURES_FILE).read_text().strip().split(","))
        except OSError:
            return {"shell_v2", "fixed_push_mkdir"}


def read_props(root: Path) -> dict[str, str]:
    try:
        lines = (root / ".sim" / "props").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


class _Stream:
    def __init__(self, local_id: int, remote_id: int) -> None:
        self.local_id = local_id
        self.remote_id = remote_id
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.acked = asyncio.Event()
        self.acked.set()
        self.closed = False


class _Connection:
    """One host connection (the adb server): the CNXN handshake, then streams."""

    def __init__(self, phone: SimPhone, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.phone = phone
        self.reader = reader
        self.writer = writer
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.max_payload = p.MAX_PAYLOAD
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: p.Message) -> None:
        self.writer.write(message.pack())
        await self.writer.drain()

    def drop(self) -> None:
        """Break the link, as a cable pulled out would."""
        self.writer.transport.abort()

    async def run(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(p.HEADER.size)
                command, arg0, arg1, length = p.unpack_header(header)
                data = await self.reader.readexactly(length) if length else b""
                await self.handle(p.Message(command, arg0, arg1, data))
        except (asyncio.IncompleteReadError, ConnectionError, p.ProtocolError) as exc:
            log.debug("%s: connection ended: %s", self.phone.serial, exc)
        finally:
            for task in self.tasks:
                task.cancel()
            self.writer.close()

    async def handle(self, message: p.Message) -> None:
        if message.command == p.A_CNXN:
            limit = self.phone.faults.max_payload or p.MAX_PAYLOAD
            self.max_payload = min(limit, message.arg1 or limit)
            await self.send(p.Message(p.A_CNXN, p.VERSION, self.max_payload, self.phone.banner()))
        elif message.command == p.A_OPEN:
            service = message.data.rstrip(b"\0").decode(errors="replace")
            if not self.known(service):  # adbd closes a stream it cannot open without an OKAY
                await self.send(p.Message(p.A_CLSE, 0, message.arg0))
                return
            stream = _Stream(self.next_id, message.arg0)
            self.next_id += 1
            self.streams[stream.local_id] = stream
            await self.send(p.Message(p.A_OKAY, stream.local_id, stream.remote_id))
            task = asyncio.create_task(self.serve(stream, service))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif message.command in (p.A_WRTE, p.A_OKAY, p.A_CLSE):
            known = self.streams.get(message.arg1)
            if known is None:
                return
            if message.command == p.A_WRTE:
                await self.send(p.Message(p.A_OKAY, known.local_id, known.remote_id))
                known.incoming.put_nowait(message.data)
            elif message.command == p.A_OKAY:
                known.acked.set()
            else:
                del self.streams[message.arg1]
                known.closed = True
                known.incoming.put_nowait(None)
                known.acked.set()

    def known(self, service: str) -> bool:
        if service.startswith(("shell,v2", "shell,raw,v2")):
            return "shell_v2" in self.phone.features
        return service.startswith(("shell:", "exec:", "shell,raw:", "sync:"))

    async def write(self, stream: _Stream, data: bytes) -> None:
        """WRTE `data` in pieces the host accepts, each after the previous one was acknowledged."""
        for start in range(0, len(data), self.max_payload):
            await stream.acked.wait()
            if stream.closed:
                return
            stream.acked.clear()
            await self.send(p.Message(p.A_WRTE, stream.local_id, stream.remote_id,
                                      data[start:start + self.max_payload]))

    async def close(self, stream: _Stream) -> None:
        await stream.acked.wait()
        if not stream.closed:
            stream.closed = True
            self.streams.pop(stream.local_id, None)
            await self.send(p.Message(p.A_CLSE, stream.local_id, stream.remote_id))

    async def serve(self, stream: _Stream, service: str) -> None:
        try:
            # known() turned away shell v2 where the phone's features lack it
            if service.startswith(("shell,v2", "shell,raw,v2")):
                await self.shell(stream, service.split(":", 1)[1], v2=True)
            elif service.startswith(("shell:", "exec:", "shell,raw:")):
                # an adbd without shell v2 runs `shell:` through a terminal, which ends lines with CR LF
                # (the Nexus 5 capture in ../shared/device-dumps shows it); `exec:` stays raw
                pty = "shell_v2" not in self.phone.features and service.startswith("shell:")
                await self.shell(stream, service.split(":", 1)[1], v2=False, crlf=pty)
            elif service.startswith("sync:"):
                await _Sync(self, stream).run()
            else:
                await self.write(stream, f"FAIL: unknown service {service}".encode())
        finally:
            await self.close(stream)

    async def shell(self, stream: _Stream, command: str, *, v2: bool, crlf: bool = False) -> None:
        faults = self.phone.faults
        if faults.disconnect_on_command and faults.disconnect_on_command in command:
            self.phone.consume("disconnect_on_command")
            self.drop()
            return
        if faults.gone_on_command and faults.gone_on_command in command:
            self.phone.set_fault("gone", True)
            self.drop()
            return
        if faults.hang_on_command and faults.hang_on_command in command:
            await asyncio.Event().wait()  # never answers; the host must give up
        if faults.crash_on_command and faults.crash_on_command in command:
            command = "echo 'Segmentation fault' >&2; exit 139"
        env = {**os.environ, "PATH": f"{self.phone.root}/.sim/bin:{os.environ.get('PATH', '')}",
               "SIM_ROOT": str(self.phone.root), "ANDROID_DATA": f"{self.phone.root}/data"}
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", self.phone.map_command(command or "true"), cwd=self.phone.root, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if v2 else asyncio.subprocess.STDOUT, start_new_session=True)
        assert process.stdout is not None

        # What the shell prints names the phone's paths, not the sandbox's: map them back. A path may
        # straddle two reads, so an end that could begin the sandbox's path waits for the next one
        # (only that: a phone sends what its tool printed at once, and bench reads a pid from it).
        prefix = f"{self.phone.root}/".encode()

        def held(data: bytes) -> int:
            return next((n for n in range(min(len(data), len(prefix) - 1), 0, -1) if prefix.startswith(data[-n:])), 0)

        async def pump(source: asyncio.StreamReader, kind: int) -> None:
            pending = b""
            while True:
                chunk = await source.read(self.max_payload - 5)
                pending = (pending + chunk).replace(prefix, b"/")
                keep = held(pending) if chunk else 0
                ready, pending = pending[:len(pending) - keep], pending[len(pending) - keep:]
                if ready:
                    ready = ready.replace(b"\n", b"\r\n") if crlf else ready
                    await self.write(stream, p.shell_packet(kind, ready) if v2 else ready)
                if not chunk:
                    return

        pumps = [pump(process.stdout, p.SHELL_STDOUT)]
        if v2 and process.stderr is not None:
            pumps.append(pump(process.stderr, p.SHELL_STDERR))
        try:
            await asyncio.gather(*pumps)
            code = await process.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            raise
        if v2:
            await self.write(stream, p.shell_packet(p.SHELL_EXIT, bytes([code & 0xFF])))


class _Sync:
    """The `sync:` service: requests are 4-byte ids with a little-endian length and a payload."""

    def __init__(self, connection: _Connection, stream: _Stream) -> None:
        self.connection = connection
        self.stream = stream
        self.buffer = b""

    async def read(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            chunk = await self.stream.incoming.get()
            if chunk is None:
                return None
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    async def reply(self, data: bytes) -> None:
        await self.connection.write(self.stream, data)

    async def run(self) -> None:
        phone = self.connection.phone
        while (header := await self.read(8)) is not None:
            request, length = header[:4].decode(errors="replace"), struct.unpack("<I", header[4:])[0]
            if request == "QUIT":
                return
            payload = await self.read(length)
            if payload is None:
                return
            argument = payload.decode(errors="replace")
            if request == "STAT":
                await self.reply(b"STAT" + _stat(phone.host_path(argument)))
            elif request == "LIST":
                await self.list(phone.host_path(argument))
            elif request == "SEND":
                if not await self.receive_file(argument):
                    return
            elif request == "RECV":
                await self.send_file(phone.host_path(argument))
            else:
                await self.fail(f"unsupported sync request {request}")
                return

    async def fail(self, message: str) -> None:
        data = message.encode()
        await self.reply(b"FAIL" + struct.pack("<I", len(data)) + data)

    async def list(self, folder: Path) -> None:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        out = b""
        for entry in entries:
            name = entry.name.encode()
            out += b"DENT" + _stat(entry) + struct.pack("<I", len(name)) + name
        await self.reply(out + b"DONE" + b"\0" * 16)

    async def receive_file(self, argument: str) -> bool:
        path_text, _, mode_text = argument.rpartition(",")
        target = self.connection.phone.host_path(path_text or argument)
        faults = self.connection.phone.faults
        chunks: list[bytes] = []
        size = 0
        while True:
            header = await self.read(8)
            if header is None:
                return False
            kind, value = header[:4], struct.unpack("<I", header[4:])[0]
            if kind == b"DATA":
                data = await self.read(value)
                if data is None:
                    return False
                size += len(data)
                self.connection.phone.pushed_bytes += len(data)
                if faults.disconnect_on_push_bytes is not None and \
                        self.connection.phone.pushed_bytes >= faults.disconnect_on_push_bytes:
                    self.connection.phone.consume("disconnect_on_push_bytes")
                    self.connection.drop()
                    return False
                chunks.append(data)
            elif kind == b"DONE":
                break
            else:
                await self.fail(f"unexpected {kind!r} during SEND")
                return False
        if faults.disk_free_bytes is not None and size > faults.disk_free_bytes:
            await self.fail(f"write failed: No space left on device ({target.name})")
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"".join(chunks))
        with contextlib.suppress(ValueError, OSError):
            target.chmod(int(mode_text) & 0o777)
        await self.reply(b"OKAY" + b"\0" * 4)
        return True

    async def send_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            await self.fail(f"open failed: {exc.strerror}")
            return
        out = b"".join(b"DATA" + struct.pack("<I", len(data[i:i + _SYNC_CHUNK])) + data[i:i + _SYNC_CHUNK]
                       for i in range(0, len(data), _SYNC_CHUNK))
        await self.reply(out + b"DONE" + b"\0" * 4)


def _stat(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError:
        return struct.pack("<III", 0, 0, 0)
    mode = info.st_mode if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode) else stat.S_IFREG | 0o644
    return struct.pack("<III", mode & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF, int(info.st_mtime))


async def serve(phone: SimPhone, port: int = 0) -> asyncio.Server:
    """Listen on 127.0.0.1:`port` (0 = any free port) as `phone`."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if phone.faults.gone:  # unplugged: nothing answers
            writer.transport.abort()
            return
        with contextlib.suppress(asyncio.CancelledError):  # the lab shutting down
            await _Connection(phone, reader, writer).run()

    return await asyncio.start_server(accept, "127.0.0.1", port)
