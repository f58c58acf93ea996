"""Simulated phones that serve what real phones printed: captures of `getprop`, CPU sysfs,
`dumpsys thermalservice` and `dumpsys battery` (a folder of them, each with its source in the
folder's README), and the quirks those phones' adbd and tools have.

    install(root, "sd8gen2", captures=Path("../shared/device-dumps"))

A profile names its capture files; only what no capture gives is written here, and says why. The
phone is still marked simulated (`ro.product.manufacturer=bench-sim`): its numbers are this host's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import ConfigError


@dataclass(frozen=True, slots=True)
class CapturedProfile:
    about: str
    getprop: str | None = None  # `[key]: [value]` lines
    props: dict[str, str] = field(default_factory=dict)  # what the getprop capture lacks (stated by the source)
    sysfs: str | None = None  # `path:value` lines (/sys/devices/system/cpu/...)
    cpu_mhz: str | None = None  # cpufetch's `[Core N] MIDR MHz` lines, where no sysfs dump exists
    thermalservice: str | None = None
    thermal_hal_not_ready: bool = False  # the dump cut where AOSP's dump() stops when the HAL is not ready
    battery: str | None = None
    shell_v2: bool = True  # adbd's shell protocol v2 (Android 7+)
    # the benchmark_model the phone has: "current", or "2.9" (no --output_filepath, no `::` in
    # --input_layer_value_files: it splits each item on every `:`)
    benchmark_model: str = "current"


CAPTURED: dict[str, CapturedProfile] = {
    "sd8gen2": CapturedProfile(
        about="1+2+2+3 Snapdragon 8 Gen 2 (SM8550) with cpu_capacity; a QTI thermal HAL",
        props={"ro.product.model": "SM8550 phone", "ro.soc.manufacturer": "QTI", "ro.soc.model": "SM8550",
               "ro.board.platform": "kalama", "ro.build.version.release": "13", "ro.build.version.sdk": "33"},
        sysfs="cpufreq-sysfs-snapdragon8gen2-sm8550-with-cpu_capacity.txt",
        thermalservice="thermalservice-qti-nsp-socd-vbat-thresholds.txt"),
    "tensor": CapturedProfile(
        about="Pixel 8, Tensor G3 (4+4+1, nine CPUs), Android 14; a Pixel's thermal HAL",
        getprop="getprop-pixel8-tensor-g3-android14.txt", sysfs="cpufreq-sysfs-pixel8-tensor-g3-android14.txt",
        thermalservice="thermalservice-pixel3-sd845-cached-vs-current-coolingdevices.txt"),
    "sd888": CapturedProfile(
        about="Xiaomi Mi 11, Snapdragon 888 (1+3+4), per-core clocks from cpufetch; a Samsung-style HAL",
        props={"ro.product.model": "Mi 11", "ro.board.platform": "lahaina", "ro.build.version.release": "11",
               "ro.build.version.sdk": "30"},
        cpu_mhz="cpufetch-debug-xiaomi-mi11-sd888-per-core-max-mhz.txt",
        thermalservice="thermalservice-galaxy-a52-5g-android12-samsung-hal2.txt"),
    "hal-not-ready": CapturedProfile(
        about="Pixel 3a whose thermal HAL is not ready: dumpsys stops at `HAL Ready: false`, zones remain",
        props={"ro.product.model": "Pixel 3a", "ro.build.version.release": "10", "ro.build.version.sdk": "29"},
        thermalservice="thermalservice-pixel3a-sargo-android10-cached-vs-current.txt", thermal_hal_not_ready=True),
    "android6": CapturedProfile(
        about="Nexus 5 on Android 6.0.1: no shell v2 (CRLF through a terminal), no thermalservice",
        props={"ro.product.model": "Nexus 5", "ro.product.device": "hammerhead", "ro.board.platform": "msm8974",
               "ro.build.version.release": "6.0.1", "ro.build.version.sdk": "23",
               "ro.product.cpu.abi": "armeabi-v7a"},
        battery="dumpsys-battery-nexus5-hammerhead-android6-crlf.txt", shell_v2=False),
    "old-tool": CapturedProfile(
        about="Pixel 2 XL (Snapdragon 835, 4+4), Android 8.1, with a TensorFlow 2.9 benchmark_model",
        getprop="getprop-pixel2xl-sd835-android8.1.txt", sysfs="cpufreq-sysfs-pixel2xl-sd835-android8.1.txt",
        benchmark_model="2.9"),
}
# what every simulated phone says of itself, whatever the capture: it is this host
SIMULATED = {"ro.product.manufacturer": "bench-sim", "ro.product.cpu.abi": "x86_64", "ro.product.cpu.abilist": "x86_64"}
_GETPROP_LINE = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")
_CORE_MHZ = re.compile(r"\[Core (\d+)\] 0x\w+ (\d+) MHz")


def _read(captures: Path, name: str) -> str:
    path = captures / name
    try:
        return path.read_bytes().decode(errors="replace")  # bytes as captured: CR LF stays (read_text drops it)
    except OSError as exc:
        raise ConfigError(f"capture {path} is missing ({exc.strerror}); give --captures the folder of the "
                          "device dumps") from exc


def captured_props(profile: CapturedProfile, captures: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    if profile.getprop:
        for line in _read(captures, profile.getprop).splitlines():
            if match := _GETPROP_LINE.match(line.strip()):
                props[match.group(1)] = match.group(2)
    props |= profile.props
    model, release = props.get("ro.product.model", "phone"), props.get("ro.build.version.release", "?")
    props["ro.build.fingerprint"] = props.get("ro.build.fingerprint") or f"bench/sim-{model}/sim:{release}/SIM/1:user"
    # the hardware is this host, whatever the capture's ABI: the real ABI is kept for the record
    if "ro.product.cpu.abi" in props:
        props["ro.bench.captured_abi"] = props["ro.product.cpu.abi"]
    return props | SIMULATED


def captured_files(profile: CapturedProfile, captures: Path) -> dict[str, str]:
    """Device path -> content, for every /sys file and dumpsys answer the captures give."""
    files: dict[str, str] = {}
    if profile.sysfs:
        for line in _read(captures, profile.sysfs).splitlines():
            path, sep, value = line.partition(":")
            if sep and path.startswith("/sys/"):
                files[path] = value + "\n"
    if profile.cpu_mhz:
        cores = {int(n): int(mhz) for n, mhz in _CORE_MHZ.findall(_read(captures, profile.cpu_mhz))}
        for cpu, mhz in cores.items():
            files[f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq"] = f"{mhz * 1000}\n"
        files["/sys/devices/system/cpu/possible"] = f"0-{max(cores)}\n"
    if profile.thermalservice:
        dump = _read(captures, profile.thermalservice)
        if profile.thermal_hal_not_ready:  # AOSP ThermalManagerService.dump() returns right after this line
            dump = dump.split("HAL Ready:", 1)[0] + "HAL Ready: false\n"
        files["dumpsys/thermalservice"] = dump
    if profile.battery:
        files["dumpsys/battery"] = _read(captures, profile.battery)
    return files
