"""Launch `benchmark_model` on a phone, stream its output under a watchdog, sample its memory.

    sh -c 'echo @@pid $$; exec taskset f0 /data/local/tmp/bench/benchmark_model --graph=... ...'

The first line names the tool's pid (exec keeps it), so while it runs the host reads
`/proc/<pid>/status` (VmHWM, VmRSS) every half second over a second adb connection. adbutils'
socket timeouts do not cover a phone that keeps the connection open and says nothing, so the
watchdog here is our own: past the deadline the remote process is killed and the job fails.
"""

from __future__ import annotations

import logging
import re
import shlex
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.devices.android import adb
from bench.errors import DeviceError, DeviceHungError

log = logging.getLogger(__name__)

_PID = re.compile(rb"@@pid (\d+)\n")
_STATUS = re.compile(r"^(VmHWM|VmRSS):\s+(\d+) kB", re.MULTILINE)
SAMPLE_EVERY_S = 0.5


@dataclass(slots=True)
class ToolRun:
    output: str = ""
    exit_code: int | None = None
    pid: int | None = None
    wall_s: float = 0.0
    sampled_vmhwm_mb: float | None = None  # the largest VmHWM read from /proc/<pid>/status while it ran
    sampled_vmrss_mb: float | None = None  # the largest VmRSS seen


def command_line(tool: str, flags: dict[str, str], cpu_mask: str | None) -> str:
    """The shell line for a run; every value quoted, since model paths and names come from users."""
    args = " ".join(shlex.quote(f"--{name}={value}") for name, value in flags.items())
    pin = f"taskset {shlex.quote(cpu_mask)} " if cpu_mask else ""
    return f"sh -c {shlex.quote(f'echo @@pid $$; exec {pin}{shlex.quote(tool)} {args}')}"


def _sample(dev: Any, run: ToolRun, stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_EVERY_S):
        if run.pid is None:
            continue
        try:
            _, text = adb.shell(dev, f"cat /proc/{run.pid}/status", timeout_s=5)
        except DeviceError:
            continue
        values = {k: int(v) / 1024.0 for k, v in _STATUS.findall(text)}
        if "VmHWM" in values:
            run.sampled_vmhwm_mb = max(run.sampled_vmhwm_mb or 0.0, values["VmHWM"])
        if "VmRSS" in values:
            run.sampled_vmrss_mb = max(run.sampled_vmrss_mb or 0.0, values["VmRSS"])


def run_tool(dev: Any, line: str, timeout_s: float, name: str = "benchmark_model") -> ToolRun:
    """Run `line` (from command_line) with shell v2; kill it on the phone past `timeout_s`."""
    import adbutils

    run = ToolRun()
    started = time.monotonic()
    deadline = started + timeout_s
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(dev, run, stop), daemon=True)
    # stdout and stderr arrive as separate packets that can split a line anywhere: keep them apart
    # (the output is stdout, then stderr; benchmark_model logs to stderr)
    streams = {1: b"", 2: b""}
    try:
        connection = dev.open_transport(timeout=timeout_s)
    except (adbutils.AdbError, OSError) as exc:
        raise DeviceError(f"lost phone {dev.serial} before the run ({exc}); reconnect it, then resume with "
                          "--resume") from exc
    sampler.start()
    try:
        connection.send_command(f"shell,v2:{line}")
        connection.check_okay()
        while True:
            connection.conn.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
            try:
                header = connection.read_exact(5)
            except (TimeoutError, adbutils.AdbTimeout):
                if time.monotonic() > deadline:
                    raise
                continue
            kind, length = header[0], struct.unpack("<I", header[1:])[0]
            data = connection.read_exact(length) if length else b""
            if kind in (1, 2):
                streams[kind] += data
                if run.pid is None and (match := _PID.search(streams[1])):
                    run.pid = int(match.group(1))
                    streams[1] = streams[1][:match.start()] + streams[1][match.end():]
            elif kind == 3:
                run.exit_code = data[0] if data else None
                break
            if time.monotonic() > deadline:
                raise TimeoutError
    except (TimeoutError, adbutils.AdbTimeout) as exc:
        _kill(dev, run.pid)
        raise DeviceHungError(f"{name} on {dev.serial} said nothing for {timeout_s:.0f} s and was killed; "
                              "check the phone (it may have hung or locked), or raise --max-secs") from exc
    except (adbutils.AdbError, OSError, EOFError) as exc:  # EOFError: the link closed mid-message
        raise DeviceError(f"lost phone {dev.serial} during the run ({exc}); reconnect it, then resume with "
                          "--resume") from exc
    finally:
        stop.set()
        sampler.join(timeout=5)
        connection.close()
        run.wall_s = time.monotonic() - started
        out, err = (streams[k].decode(errors="replace") for k in (1, 2))
        run.output = out + ("\n" if out and err and not out.endswith("\n") else "") + err
    return run


def _kill(dev: Any, pid: int | None) -> None:
    if pid is None:
        return
    try:
        adb.shell(dev, f"kill -9 {pid}", timeout_s=10)
    except DeviceError as exc:
        log.warning("could not kill pid %d on %s: %s", pid, dev.serial, exc)
