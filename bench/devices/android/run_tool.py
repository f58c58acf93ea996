"""Launch `benchmark_model` on a phone, stream its output under a watchdog, sample its memory.

    sh -c 'echo @@pid $$; taskset f0 /data/local/tmp/bench/benchmark_model --graph=... ... & t=$!;
           taskset 0f sh -c "while ...: read VmHWM from /proc/$1/status ..." sampler $t & s=$!;
           wait $t; c=$?; kill $s; exit $c'

The first line names the pid of the shell that started the tool. The tool's memory is read on the
phone by one background loop started with it, four times a second, off the tool's cores where the
phone has others (`@@mem VmHWM: N kB` lines when it grew, taken out of the output): no adb round trip
per sample, and VmHWM is a high-water mark, so the last reading before the tool exits holds its peak.
The loop is killed as soon as the tool exits (its `sleep` does not hold the output open), since the
phone's adbd reports the exit code only once every holder of the output has closed it. adbutils'
socket timeouts do not cover a phone that keeps the connection open and says nothing, so the
watchdog here is our own: past the deadline what bench started is killed (the `sh` and every
process under it: a per-image loop's current tool too) and the job fails.

Phones whose adbd lacks shell protocol v2 (Android 6 and older: no `shell_v2` in its features)
get the v1 `shell:` service, which gives no exit code and merges stderr into stdout through a
terminal (CRLF line ends): the command then prints its exit code after a sentinel.
"""

from __future__ import annotations

import logging
import re
import shlex
import struct
import time
from dataclasses import dataclass
from typing import Any

from bench.devices.android import adb
from bench.errors import DeviceError, DeviceHungError

log = logging.getLogger(__name__)

_PID = re.compile(rb"@@pid (\d+)\r?\n")
_EXIT = re.compile(re.escape(adb.V1_EXIT.encode()) + rb"(\d+)\r?\n?$")
_MEMORY = re.compile(rb"@@mem VmHWM:\s+(\d+) kB\r?\n")
SAMPLE_EVERY_S = 0.25


@dataclass(slots=True)
class ToolRun:
    output: str = ""
    exit_code: int | None = None
    pid: int | None = None
    wall_s: float = 0.0
    sampled_vmhwm_mb: float | None = None  # the largest VmHWM read from /proc/<pid>/status while it ran


def command_line(tool: str, flags: dict[str, str], cpu_mask: str | None, *, sample_memory: bool = False,
                 sampler_mask: str | None = None) -> str:
    """The shell line for a run; every value quoted, since model paths and names come from users.

    With `sample_memory`, a loop on the phone prints the tool's VmHWM as it grows, pinned to
    `sampler_mask` (cores the tool does not use) where given.
    """
    args = " ".join(shlex.quote(f"--{name}={value}") for name, value in flags.items())
    pin = f"taskset {shlex.quote(cpu_mask)} " if cpu_mask else ""
    if not sample_memory:
        return f"sh -c {shlex.quote(f'echo @@pid $$; exec {pin}{shlex.quote(tool)} {args}')}"
    # reads the tool's VmHWM with shell builtins (no process started but `sleep`) four times a second and
    # prints it when it grew; killed when the tool exits, so it never keeps the run open for its last sleep
    loop = ("h=; while [ -e /proc/$1/status ]; do n=; while read -r k v u; do [ \"$k\" = VmHWM: ] && n=$v; "
            "done < /proc/$1/status 2>/dev/null; if [ -n \"$n\" ] && [ \"$n\" != \"$h\" ]; then h=$n; "
            f"echo \"@@mem VmHWM: $n kB\"; fi; sleep {SAMPLE_EVERY_S:g} >/dev/null 2>&1; done")
    sampler_pin = f"taskset {shlex.quote(sampler_mask)} " if sampler_mask else ""
    script = (f"echo @@pid $$; {pin}{shlex.quote(tool)} {args} & t=$!; "
              f"{sampler_pin}sh -c {shlex.quote(loop)} sampler $t & s=$!; wait $t; c=$?; kill $s 2>/dev/null; exit $c")
    return f"sh -c {shlex.quote(script)}"


def _take_memory(run: ToolRun, stdout: bytes) -> bytes:
    """Read the sampler's lines into `run` and take them out of the tool's output."""
    for kb in _MEMORY.findall(stdout):
        run.sampled_vmhwm_mb = max(run.sampled_vmhwm_mb or 0.0, int(kb) / 1024.0)
    return _MEMORY.sub(b"", stdout)


def run_tool(dev: Any, line: str, timeout_s: float, name: str = "benchmark_model") -> ToolRun:
    """Run `line` (from command_line) on the phone; kill it there past `timeout_s`."""
    import adbutils

    run = ToolRun()
    started = time.monotonic()
    deadline = started + timeout_s
    v2 = adb.has_shell_v2(dev)
    # stdout and stderr arrive as separate packets that can split a line anywhere: keep them apart
    # (the output is stdout, then stderr; benchmark_model logs to stderr)
    streams = {1: b"", 2: b""}
    try:
        connection = dev.open_transport(timeout=timeout_s)
    except (adbutils.AdbError, OSError) as exc:
        raise DeviceError(f"lost phone {dev.serial} before the run ({exc}); reconnect it, then resume with "
                          "--resume") from exc
    try:
        connection.send_command(f"shell,v2:{line}" if v2 else f"shell:{line}; echo {adb.V1_EXIT}$?")
        connection.check_okay()
        while True:
            connection.conn.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
            try:
                kind, data = _read_v2(connection) if v2 else (1, connection.recv(65536) or None)
            except (TimeoutError, adbutils.AdbTimeout):
                if time.monotonic() > deadline:
                    raise
                continue
            if data is None:  # v1: the phone closed the stream, the command is done
                if match := _EXIT.search(streams[1]):
                    run.exit_code = int(match.group(1))
                    streams[1] = streams[1][:match.start()]
                break
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
        kill_tree(dev, run.pid)
        raise DeviceHungError(f"{name} on {dev.serial} said nothing for {timeout_s:.0f} s and was killed; "
                              "check the phone (it may have hung or locked), or raise --max-secs") from exc
    except (adbutils.AdbError, OSError, EOFError) as exc:  # EOFError: the link closed mid-message
        raise DeviceError(f"lost phone {dev.serial} during the run ({exc}); reconnect it, then resume with "
                          "--resume") from exc
    finally:
        connection.close()
        run.wall_s = time.monotonic() - started
        streams[1] = _take_memory(run, streams[1])
        out, err = (streams[k].decode(errors="replace").replace("\r\n", "\n") for k in (1, 2))
        run.output = out + ("\n" if out and err and not out.endswith("\n") else "") + err
    return run


def _read_v2(connection: Any) -> tuple[int, bytes]:
    """One shell v2 packet: a kind (1 stdout, 2 stderr, 3 exit) and its data."""
    header = connection.read_exact(5)
    kind, length = header[0], struct.unpack("<I", header[1:])[0]
    return kind, connection.read_exact(length) if length else b""


# Stop the process (so a loop cannot start the next tool), kill its children depth first (found by
# their PPid in /proc, which toybox and busybox both read the same way), then the process itself.
KILL_TREE = ("t() { kill -STOP $1 2>/dev/null; for s in $(grep -l \"^PPid:[[:space:]]*$1\\$\" /proc/[0-9]*/status "
             "2>/dev/null); do c=${s#/proc/}; t ${c%/status}; done; kill -9 $1 2>/dev/null; }; t ")


def kill_tree(dev: Any, pid: int | None) -> None:
    """Kill what bench started on the phone: the process `pid` and everything under it."""
    if pid is None:
        return
    try:
        adb.shell(dev, f"{KILL_TREE}{pid}", timeout_s=10)
    except DeviceError as exc:
        log.warning("could not kill pid %d on %s: %s", pid, dev.serial, exc)
