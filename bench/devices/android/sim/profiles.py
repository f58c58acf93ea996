"""What a simulated phone says about itself: properties, /sys files, dumpsys answers, shims.

A simulated phone is an x86_64 "phone" that runs on this host: its profile says so plainly
(`ro.product.manufacturer=bench-sim`), so nothing it measures passes for a real phone's number.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.devices.android.sim.captured import CAPTURED, captured_files, captured_props
from bench.errors import ConfigError

PROFILES: dict[str, dict[str, str]] = {
    "default": {
        "ro.product.name": "bench_sim", "ro.product.device": "bench_sim", "ro.product.model": "Simulated Phone",
        "ro.product.manufacturer": "bench-sim", "ro.soc.manufacturer": "host", "ro.soc.model": "host-x86_64",
        "ro.board.platform": "sim", "ro.build.version.release": "14", "ro.build.version.sdk": "34",
        "ro.product.cpu.abi": "x86_64", "ro.product.cpu.abilist": "x86_64",
        "ro.build.fingerprint": "bench/sim/sim:14/SIM.0/1:userdebug/test-keys",
    },
}

# little and big cores; a simulated phone has no more CPUs than the host that runs it
_CPU_MAX_KHZ = (1800000, 1800000, 2400000, 2400000)[-max(1, min(4, os.cpu_count() or 1)):]

_GETPROP = """#!/bin/sh
props="$SIM_ROOT/.sim/props"
if [ $# -eq 0 ]; then
  while IFS='=' read -r k v; do echo "[$k]: [$v]"; done < "$props"
else
  grep -m1 "^$1=" "$props" | cut -d= -f2-
fi
"""
_DUMPSYS = """#!/bin/sh
f="$SIM_ROOT/.sim/dumpsys/$1"
if [ -f "$f" ]; then cat "$f"; else echo "Can't find service: $1"; exit 1; fi
"""
_CMD = """#!/bin/sh
# Android's `cmd` (Android 7+, SDK 24): `cmd power` as AOSP's PowerManagerShellCommand answers it; the
# fixed performance mode came in Android 11 (SDK 30). Unknown commands: "Unknown command: X", exit 255.
sdk=$(grep -m1 '^ro.build.version.sdk=' "$SIM_ROOT/.sim/props" | cut -d= -f2)
sdk=${sdk:-34}
if [ "$sdk" -lt 24 ]; then echo "/system/bin/sh: cmd: inaccessible or not found" >&2; exit 127; fi
if [ "$1" != power ]; then echo "Can't find service: $1"; exit 20; fi
case "$2" in
  help|"")
    echo "Power manager (power) commands:"
    echo "  help"
    echo "    Print this help text."
    echo ""
    echo "  set-adaptive-power-saver-enabled [true|false]"
    echo "    enables or disables adaptive power saver."
    echo "  set-mode MODE"
    echo "    sets the power mode of the device to MODE."
    if [ "$sdk" -ge 30 ]; then
      echo "  set-fixed-performance-mode-enabled [true|false]"
      echo "    enables or disables fixed performance mode"
      echo "    note: this does not affect system power mode"
    fi
    exit 0;;
  set-fixed-performance-mode-enabled)
    if [ "$sdk" -ge 30 ]; then echo "$3" > "$SIM_ROOT/.sim/fixed_performance"; exit 0; fi;;
esac
echo "Unknown command: $2"; exit 255
"""
_DF = """#!/bin/sh
# df -k FOLDER: the phone's free space, as a test set it (.sim/free_kb), else the host disk's
if [ -f "$SIM_ROOT/.sim/free_kb" ]; then
  echo "Filesystem 1K-blocks Used Available Use% Mounted on"
  echo "/dev/block/dm-48 100000000 0 $(cat "$SIM_ROOT/.sim/free_kb") 0% /data"
else
  exec /bin/df -k "$@"
fi
"""
_TASKSET = """#!/bin/sh
# taskset MASK COMMAND...: the simulated phone has no big cores to pin to; run the command.
# taskset -p PID: toybox's answer, every CPU the phone has (/sys/devices/system/cpu/possible) allowed
if [ "$1" = -p ]; then
  last=$(cut -d- -f2 "$SIM_ROOT/sys/devices/system/cpu/possible")
  printf "pid %s's current affinity mask: %x\\n" "$2" $(( (1 << (last + 1)) - 1 ))
  exit 0
fi
shift
exec "$@"
"""
# what the phone's mksh says of a command it does not have (a real capture: "/system/bin/sh: su:
# inaccessible or not found", exit 127)
_MISSING = """#!/bin/sh
echo "/system/bin/sh: {name}: inaccessible or not found" >&2; exit 127
"""


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(0o755)


def battery_text(level: int, temperature_c: float, charging: bool) -> str:
    return (f"Current Battery Service state:\n  AC powered: false\n  USB powered: {str(charging).lower()}\n"
            f"  status: {2 if charging else 3}\n  health: 2\n  present: true\n  level: {level}\n  scale: 100\n"
            f"  voltage: 4123\n  temperature: {round(temperature_c * 10)}\n  technology: Li-ion\n")


def thermal_text(status: int, temperature_c: float, cached_c: float) -> str:
    """`dumpsys thermalservice` as Android 10+ prints it (ThermalHAL 2.0), in the layout of the Pixel 3a
    capture in ../shared/device-dumps: the cached list holds the value of the last threshold event
    (`cached_c`, stale), the HAL's current list the temperature now, cooling devices after it."""
    def sensors(celsius: float) -> str:
        return (f"\tTemperature{{mValue={celsius:.1f}, mType=0, mName=cpu0-silver-usr, mStatus={status}}}\n"
                f"\tTemperature{{mValue={celsius - 4:.1f}, mType=2, mName=battery, mStatus=0}}\n"
                f"\tTemperature{{mValue={celsius - 6:.1f}, mType=3, mName=skin-therm, mStatus=0}}\n")

    return (f"IsStatusOverride: false\nThermalEventListeners:\n\tcallbacks: 1\n\tkilled: false\n"
            f"\tbroadcasts count: -1\nThermal Status: {status}\nCached temperatures:\n{sensors(cached_c)}"
            f"HAL Ready: true\nHAL connection:\n\tThermalHAL 2.0 connected: yes\n"
            f"Current temperatures from HAL:\n{sensors(temperature_c)}"
            "Current cooling devices from HAL:\n\tCoolingDevice{mValue=0, mType=2, mName=thermal-cpufreq-0}\n")


def set_temperature(root: Path, temperature_c: float) -> None:
    """Set what the phone's thermal zones and dumpsys report (a test heats a phone this way). A phone
    whose dumpsys answers come from captures keeps them: only its zones change."""
    zone0 = root / "sys/class/thermal/thermal_zone0/temp"
    try:
        cached = int(zone0.read_text()) / 1000.0  # the value before this change: what the cache still holds
    except (OSError, ValueError):
        cached = temperature_c
    for zone, offset in (("thermal_zone0", 0.0), ("thermal_zone1", -4.0)):
        _write(root / "sys/class/thermal" / zone / "temp", f"{round((temperature_c + offset) * 1000)}\n")
    if (root / CAPTURED_MARK).exists():
        return
    status = 0 if temperature_c < 45 else 1 if temperature_c < 50 else 3
    _write(root / ".sim/dumpsys/thermalservice", thermal_text(status, temperature_c, cached))
    _write(root / ".sim/dumpsys/battery", battery_text(87, temperature_c - 4, charging=True))


def remove_command(root: Path, name: str) -> None:
    """Make the simulated phone lack a shell command (`taskset`, `sha256sum`), as an older toybox does."""
    _write(root / ".sim/bin" / name, _MISSING.format(name=name), executable=True)


def set_faults(root: Path, **faults: object) -> None:
    """Inject faults into a running simulated phone (see SimFaults); no arguments clears them."""
    import json

    _write(root / ".sim/faults.json", json.dumps(faults))


def set_free_bytes(root: Path, free: int) -> None:
    """Make `df` on the phone report `free` bytes available (a test fills the disk this way)."""
    _write(root / ".sim/free_kb", f"{free // 1024}\n")


CAPTURED_MARK = ".sim/captured"  # the phone serves captured dumpsys answers: set_temperature leaves them
FEATURES_FILE = ".sim/features"  # adbd's features, as its banner announces them
TOOL_VERSION_FILE = ".sim/benchmark_model_version"


def profile_names() -> list[str]:
    return sorted({*PROFILES, *CAPTURED})


def install(root: Path, profile: str = "default", captures: Path | None = None) -> None:
    """Lay out the sandbox of a simulated phone under `root`; a captured profile reads `captures`."""
    if profile not in PROFILES and profile not in CAPTURED:
        raise ConfigError(f"no simulated phone profile {profile!r}; choose one of {', '.join(profile_names())}")
    captured = CAPTURED.get(profile)
    if captured is not None and captures is None:
        raise ConfigError(f"profile {profile!r} serves real captures: give their folder with --captures "
                          "(the device dumps)")
    props = captured_props(captured, captures) if captured and captures else PROFILES[profile]
    for folder in (".sim", "sys"):  # a phone of another profile may have lived here: none of its CPUs or dumps stay
        shutil.rmtree(root / folder, ignore_errors=True)
    _write(root / ".sim/props", "".join(f"{k}={v}\n" for k, v in props.items()))
    for name, text in (("getprop", _GETPROP), ("dumpsys", _DUMPSYS), ("cmd", _CMD), ("taskset", _TASKSET),
                       ("df", _DF)):
        _write(root / ".sim/bin" / name, text, executable=True)
    (root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
    (root / "sdcard").mkdir(parents=True, exist_ok=True)
    files = captured_files(captured, captures) if captured and captures else {}
    if not any(path.startswith("/sys/devices/system/cpu/") for path in files):
        for cpu, khz in enumerate(_CPU_MAX_KHZ):
            base = root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
            _write(base / "cpuinfo_max_freq", f"{khz}\n")
            _write(base / "scaling_cur_freq", f"{khz}\n")
            _write(base / "scaling_governor", "schedutil\n")
        _write(root / "sys/devices/system/cpu/possible", f"0-{len(_CPU_MAX_KHZ) - 1}\n")
    _write(root / "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    _write(root / "sys/class/thermal/thermal_zone1/type", "battery\n")
    _write(root / ".sim/dumpsys/power", "mWakefulness=Awake\nDisplay Power: state=ON\n")
    set_temperature(root, 36.0)
    if captured is not None:
        _write(root / CAPTURED_MARK, f"{profile}: {captured.about}\n")
        if not captured.thermalservice:  # Android 6 has no thermal service: dumpsys says it cannot find it
            (root / ".sim/dumpsys/thermalservice").unlink(missing_ok=True)
        for path, text in files.items():
            _write(root / (".sim/" + path if path.startswith("dumpsys/") else path.lstrip("/")), text)
        _write(root / TOOL_VERSION_FILE, captured.benchmark_model + "\n")
    features = "shell_v2,fixed_push_mkdir" if captured is None or captured.shell_v2 else "fixed_push_mkdir"
    _write(root / FEATURES_FILE, features + "\n")
