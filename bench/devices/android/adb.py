"""The few things bench asks of a phone over ADB, each one shell round trip where possible.

adbutils types stay in this package: callers get strings, dicts and numbers.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import DeviceError, DeviceNotReadyError

log = logging.getLogger(__name__)

_PROP = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")
_PLAIN_PATH = re.compile(r"^[\w./-]+$")  # safe unquoted in a shell line and a sed expression


@dataclass(frozen=True, slots=True)
class Attached:
    serial: str
    state: str  # device | unauthorized | offline | ...


def client(host: str = "127.0.0.1", port: int | None = None) -> Any:
    """The adb server at host:port, by default the one `adb` itself uses (ANDROID_ADB_SERVER_PORT or 5037)."""
    import adbutils

    return adbutils.AdbClient(host=host, port=port or int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037")))


def attached(adb: Any) -> list[Attached]:
    """Every phone the adb server knows, in any state (`adb devices`)."""
    try:
        return [Attached(serial=d.serial, state=d.state) for d in adb.list()]
    except Exception as exc:  # adbutils raises its own errors and OSError when no server is up
        raise DeviceError(f"cannot reach the adb server ({exc}); start it with: adb start-server") from exc


def device(adb: Any, serial: str) -> Any:
    states = {a.serial: a.state for a in attached(adb)}
    if serial not in states:
        raise DeviceNotReadyError(f"phone {serial} is not attached; check the cable and run: adb devices")
    if states[serial] != "device":
        hint = "accept the USB debugging prompt on the phone" if states[serial] == "unauthorized" else "reconnect it"
        raise DeviceNotReadyError(f"phone {serial} is {states[serial]}; {hint}, then run: adb devices")
    return adb.device(serial=serial)


def has_shell_v2(dev: Any) -> bool:
    """Whether the phone's adbd speaks shell protocol v2 (exit codes, stderr apart): Android 7 and later.

    Asked of the adb server once per device object (a reconnected phone is a new object).
    """
    import adbutils

    if "_bench_shell_v2" not in dev.__dict__:
        try:
            dev.__dict__["_bench_shell_v2"] = "shell_v2" in dev.get_features().split(",")
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise DeviceError(f"lost phone {dev.serial} while asking for its features ({exc}); reconnect it, "
                              "then run: adb devices") from exc
    return bool(dev.__dict__["_bench_shell_v2"])


V1_EXIT = "@@exit "  # printed after a command run without shell v2, before its exit code


def shell(dev: Any, command: str, timeout_s: float = 30.0) -> tuple[int, str]:
    """Run `command` in the phone's shell; return (exit code, stdout + stderr).

    Without shell v2 the command runs in its own `sh -c` and its exit code is printed after a
    sentinel (adbutils' own fallback appends the sentinel to the command, which `exit` skips).
    """
    import adbutils

    v2 = has_shell_v2(dev)
    try:
        if v2:
            result = dev.shell2(command, timeout=timeout_s, v2=True)
            code, output = int(result.returncode), str(result.output)
        else:
            raw = dev.shell(f"sh -c {shlex.quote(command)}; echo {V1_EXIT}$?", timeout=timeout_s, rstrip=False)
            output, _, tail = str(raw).rpartition(V1_EXIT)
            if not tail.strip().isdigit():
                raise adbutils.AdbError(f"the phone's shell ended before `{command[:40]}` finished")
            code = int(tail.strip())
    except adbutils.AdbTimeout as exc:
        raise DeviceError(f"phone {dev.serial} did not answer `{command[:60]}` in {timeout_s:.0f} s; "
                          "unplug and replug it, then run: adb devices") from exc
    except (adbutils.AdbError, OSError, EOFError) as exc:
        raise DeviceError(f"lost phone {dev.serial} during `{command[:60]}` ({exc}); reconnect it, "
                          "then resume the run with --resume") from exc
    return code, output.replace("\r\n", "\n")


def getprops(dev: Any) -> dict[str, str]:
    """All system properties (`getprop`, lines like `[ro.product.model]: [Pixel 7]`)."""
    _, text = shell(dev, "getprop")
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := _PROP.match(line.strip()))}


FOLDER_HASH_FROM = 8  # from this many files in one folder, hash the folder: the command stays short


def remote_sha256(dev: Any, paths: list[str]) -> dict[str, str]:
    """sha256 of each existing file on the phone (`sha256sum`, toybox has it since Android 6).

    Many files in one folder (an image set) are hashed as `cd folder && sha256sum *`, since a
    command naming each of them could pass what an old adbd accepts in one message.
    """
    folders: dict[str, list[str]] = {}
    for path in paths:
        folders.setdefault(str(Path(path).parent), []).append(path)
    by_folder = {f for f, group in folders.items() if len(group) >= FOLDER_HASH_FROM and _PLAIN_PATH.match(f)}
    singles = [p for folder, group in folders.items() if folder not in by_folder for p in group]
    commands = [f"cd {folder} 2>/dev/null && sha256sum * 2>/dev/null | sed 's|  |  {folder}/|'" for folder in by_folder]
    if singles:
        commands.append("sha256sum " + " ".join(shlex.quote(p) for p in singles) + " 2>/dev/null")
    found = {}
    for command in commands:
        _, text = shell(dev, command, timeout_s=300)
        for line in text.splitlines():
            digest, _, name = line.strip().partition("  ")
            if len(digest) == 64 and name:
                found[name] = digest
    wanted = set(paths)
    return {name: digest for name, digest in found.items() if name in wanted}


def read_file(dev: Any, path: str, what: str) -> bytes:
    """A file's bytes from the phone (sync RECV); a clear error when it is not there."""
    import adbutils

    try:
        data: bytes = dev.sync.read_bytes(path)
    except (adbutils.AdbError, OSError, EOFError) as exc:
        raise DeviceError(f"could not read {what} ({path}) from {dev.serial}: {exc}; the tool did not write it, "
                          "or the phone dropped off (check with: adb devices)") from exc
    return data


def free_bytes(dev: Any, folder: str) -> int | None:
    """Free space where `folder` lives (`df -k`), None when the phone does not say."""
    _, text = shell(dev, f"df -k {shlex.quote(folder)}")
    lines = [line.split() for line in text.splitlines()[1:] if line.split()]
    try:
        return int(lines[-1][3]) * 1024
    except (IndexError, ValueError):
        return None


def push_if_changed(dev: Any, pairs: list[tuple[Path, str, str]], *, mode: int = 0o644,
                    executables: frozenset[str] = frozenset()) -> int:
    """Push each (local file, its sha256, remote path) whose copy on the phone differs; return bytes moved.

    One `sha256sum` round trip for them all; remote paths in `executables` are pushed with mode 0755.
    """
    import adbutils

    remote = remote_sha256(dev, [r for _, _, r in pairs])
    todo = [(local, digest, path) for local, digest, path in pairs if remote.get(path) != digest]
    if not todo:
        return 0
    need = sum(local.stat().st_size for local, _, _ in todo)
    folder = str(Path(todo[0][2]).parent)
    shell(dev, "mkdir -p " + " ".join(sorted({shlex.quote(str(Path(p).parent)) for _, _, p in todo})))
    free = free_bytes(dev, folder)
    if free is not None and free < need:
        raise DeviceError(f"phone {dev.serial} has {free / 1e6:.0f} MB free in {folder}, {need / 1e6:.0f} MB needed; "
                          "free space on it, e.g. adb shell rm -r /data/local/tmp/bench (bench pushes again)")
    moved = 0
    for local, digest, path in todo:
        try:
            dev.sync.push(local, path, mode=0o755 if path in executables else mode)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise DeviceError(f"push of {local.name} to {dev.serial} failed ({exc}); check the cable and free "
                              "space, then resume the run with --resume") from exc
        moved += local.stat().st_size
        log.debug("pushed %s -> %s (%s)", local, path, digest[:12])
    return moved
