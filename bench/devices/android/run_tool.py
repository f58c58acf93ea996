"""Launch `benchmark_model` on a phone, stream its output under a watchdog, sample its memory.

    sh -c 'echo @@pid $$; taskset f0 /data/local/tmp/bench/benchmark_model --graph=... ... & t=$!;
           taskset 0f sh -c "while ...: read VmHWM from /proc/$1/status ..." sampler $t & s=$!;
           wait $t; c=$?; kill $s; exit $c'

The first line names the pid of the shell that started the tool. The tool's memory is read on the
phone by one background loop started with it, four times a second (faster in its first 0.2 s, as a
short job is over by then), off the tool's cores where the phone has others (`@@mem VmHWM: N kB`
lines when it grew, taken out of the output): no adb round trip per sample, and VmHWM is a
high-water mark, so the last reading before the tool exits holds its peak.
The loop is killed as soon as the tool exits (its `sleep` does not hold the output open), since the
phone's adbd reports the exit code only once every holder of the output has closed it. adbutils'
socket timeouts do not cover a phone that keeps the connection open and says nothing, so the
watchdog here is our own: it kills what bench started (the `sh` and every process under it: a
per-image loop's current tool too) when the tool has been silent for longer than its own settings
allow, or past an overall deadline, and the job fails with what the tool printed so far.

How long benchmark_model may be silent is read from its own progress lines (bench.engines.silence).

Phones whose adbd lacks shell protocol v2 (Android 6 and older: no `shell_v2` in its features)
get the v1 `shell:` service, which gives no exit code and merges stderr into stdout through a
terminal (CRLF line ends): the command then prints its exit code after a sentinel.
"""

from __future__ import annotations

import itertools
import logging
import re
import shlex
import struct
import time
from dataclasses import dataclass
from typing import Any

from bench.devices.android import adb
from bench.engines.silence import SilenceWatch
from bench.errors import DeviceError, DeviceHungError

log = logging.getLogger(__name__)

_PID = re.compile(rb"@@pid (\d+)\r?\n")
_EXIT = re.compile(re.escape(adb.V1_EXIT.encode()) + rb"(\d+)\r?\n?$")
_MEMORY = re.compile(rb"@@mem VmHWM:\s+(\d+) kB\r?\n")
SAMPLE_EVERY_S = 0.25
SAMPLE_STEPS_S = (0.01, 0.02, 0.05, 0.1, SAMPLE_EVERY_S)  # the sampler's first sleeps


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
    # reads the tool's VmHWM with shell builtins (no process started but `sleep`) and prints it when it grew:
    # quickly at first (a short job is over before a quarter second), then four times a second; killed when
    # the tool exits, so it never keeps the run open for its last sleep
    steps = " ".join(f"{a:g}) d={b:g};;" for a, b in itertools.pairwise(SAMPLE_STEPS_S))
    loop = (f"h=; d={SAMPLE_STEPS_S[0]:g}; while [ -e /proc/$1/status ]; do n=; while read -r k v u; do "
            "[ \"$k\" = VmHWM: ] && n=$v; done < /proc/$1/status 2>/dev/null; if [ -n \"$n\" ] && "
            "[ \"$n\" != \"$h\" ]; then h=$n; echo \"@@mem VmHWM: $n kB\"; fi; sleep $d >/dev/null 2>&1; "
            f"case $d in {steps} esac; done")
    sampler_pin = f"taskset {shlex.quote(sampler_mask)} " if sampler_mask else ""
    script = (f"echo @@pid $$; {pin}{shlex.quote(tool)} {args} & t=$!; "
              f"{sampler_pin}sh -c {shlex.quote(loop)} sampler $t & s=$!; wait $t; c=$?; kill $s 2>/dev/null; exit $c")
    return f"sh -c {shlex.quote(script)}"


def _take_memory(run: ToolRun, stdout: bytes) -> bytes:
    """Read the sampler's lines into `run` and take them out of the tool's output."""
    for kb in _MEMORY.findall(stdout):
        run.sampled_vmhwm_mb = max(run.sampled_vmhwm_mb or 0.0, int(kb) / 1024.0)
    return _MEMORY.sub(b"", stdout)


def run_tool(dev: Any, line: str, timeout_s: float, name: str = "benchmark_model",
             watch: SilenceWatch | None = None) -> ToolRun:
    """Run `line` (from command_line) on the phone; kill it there past `timeout_s`, or, with a `watch`, once it
    has printed nothing for longer than its progress lines allow."""
    import adbutils

    run = ToolRun()
    started = time.monotonic()
    deadline = started + timeout_s
    heard_at = started
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
        def give_up() -> float:
            """When the tool's silence (bench's own @@ lines do not break it), or the launch, has lasted too long."""
            return min(deadline, heard_at + watch.allowed_s) if watch else deadline

        while True:
            connection.conn.settimeout(max(0.1, min(1.0, give_up() - time.monotonic())))
            try:
                kind, data = _read_v2(connection) if v2 else (1, connection.recv(65536) or None)
            except (TimeoutError, adbutils.AdbTimeout):
                if time.monotonic() > give_up():
                    raise
                continue
            if watch and data and kind in (1, 2) and watch.heard(data.decode(errors="replace")):
                heard_at = time.monotonic()
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
            if time.monotonic() > give_up():
                raise TimeoutError
    except (TimeoutError, adbutils.AdbTimeout) as exc:
        kill_tree(dev, run.pid)
        _finish(run, streams, started)
        now = time.monotonic()
        raise DeviceHungError(_hung(name, dev.serial, silent_s=now - heard_at, ran_s=now - started,
                                    timeout_s=timeout_s, watch=watch, output=run.output), output=run.output) from exc
    except (adbutils.AdbError, OSError, EOFError) as exc:  # EOFError: the link closed mid-message
        _finish(run, streams, started)
        raise DeviceError(f"lost phone {dev.serial} during the run ({exc}); reconnect it, then resume with "
                          "--resume", output=run.output) from exc
    finally:
        connection.close()
    _finish(run, streams, started)
    return run


def _finish(run: ToolRun, streams: dict[int, bytes], started: float) -> None:
    """The run's wall time, memory readings and output (stdout, then stderr), from what arrived so far."""
    run.wall_s = time.monotonic() - started
    streams[1] = _take_memory(run, streams[1])
    out, err = (streams[k].decode(errors="replace").replace("\r\n", "\n") for k in (1, 2))
    run.output = out + ("\n" if out and err and not out.endswith("\n") else "") + err


def _hung(name: str, serial: str, *, silent_s: float, ran_s: float, timeout_s: float, watch: SilenceWatch | None,
          output: str) -> str:
    """Why the tool was killed, what it printed last, and what to do."""
    # the watch read the lines as they came; the output holds stdout, then stderr
    last = watch.last_line if watch is not None else next(
        (line.strip() for line in reversed(output.splitlines()) if line.strip()), "")
    said = f"its last line: {last[:160]!r}" if last else "it printed nothing"
    after = ("check the phone (it may have hung or locked), or raise watchdog_margin_s under [run] in bench.toml; "
             "its output is kept with the failed job (python -m bench report RUN_ID --raw JOB_ID)")
    if watch is not None and ran_s < timeout_s:
        return (f"{name} on {serial} was silent for {silent_s:.0f} s, longer than its settings allow "
                f"({watch.allowed_s:.0f} s: {watch.why}), and was killed; {said}; {after}")
    return f"{name} on {serial} ran past {timeout_s:.0f} s and was killed; {said}; {after}"


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
