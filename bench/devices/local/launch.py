"""Start one host runner process and wait for it, with a watchdog.

On Linux, runners are forked by `bench.engines.fork_server`, started once per `bench` process:
each run is still its own process (its memory is its own; a crash or a hang kills only it) without
paying ~0.2 s of interpreter start and imports per run. Elsewhere each run is a fresh
`python -m bench.engines.host_runner`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int | None  # None: killed by the watchdog
    stdout: str
    stderr: str


class _ForkServer:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.engines.fork_server"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pending = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive():
            assert self.process.stdin is not None
            self.process.stdin.close()  # the server ends when its requests end
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _reply(self, deadline: float | None) -> dict[str, Any] | None:
        """Read one reply line; None when `deadline` passes first."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise OSError("the runner fork server exited")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, argv: list[str], stdout: Path, stderr: Path, timeout_s: float) -> int | None:
        assert self.process.stdin is not None
        request = {"argv": argv, "stdout": str(stdout), "stderr": str(stderr)}
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        started = self._reply(None)
        assert started is not None
        ended = self._reply(time.monotonic() + timeout_s)
        if ended is None:
            os.kill(int(started["pid"]), signal.SIGKILL)
            self._reply(None)
            return None
        return int(ended["returncode"])


_idle: list[_ForkServer] = []  # one per runner that runs at the same time as another (bench run --concurrent)
_lock = threading.Lock()


@contextlib.contextmanager
def _fork_server() -> Iterator[_ForkServer | None]:
    """An idle fork server for one run (a new one when every other is busy); None off Linux."""
    if not sys.platform.startswith("linux"):
        yield None
        return
    with _lock:
        alive = [s for s in _idle if s.alive()]
        server = alive.pop() if alive else None
        _idle[:] = alive
    if server is None:
        server = _ForkServer()
        atexit.register(server.close)
    try:
        yield server
    finally:
        with _lock:
            _idle.append(server)


def run_runner(argv: list[str], timeout_s: float) -> Finished:
    """Run `host_runner.main(argv)` in its own process; kill it past `timeout_s`."""
    with _fork_server() as server:
        if server is None:
            try:
                done = subprocess.run([sys.executable, "-m", "bench.engines.host_runner", *argv],
                                      capture_output=True, text=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return Finished(None, "", "")
            return Finished(done.returncode, done.stdout, done.stderr)
        with tempfile.TemporaryDirectory(prefix="bench-runner-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            returncode = server.run(argv, out, err, timeout_s)
            return Finished(returncode, _text(out), _text(err))


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
