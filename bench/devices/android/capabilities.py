"""What a phone offers bench, probed rather than assumed: one shell round trip and one `--help` of its tool.

    sha256sum /dev/null         ->  e3b0c442...b855  /dev/null           (pushes skip files already there)
    taskset -p $$               ->  pid 4242's current affinity mask: ff  (threads pinned; CPUs the shell may use)
    cmd power help | grep fixed ->  set-fixed-performance-mode-enabled [true|false]   (Android 11+)
    dumpsys thermalservice / thermal zones / dumpsys battery            (bench.devices.android.state)
    benchmark_model --help      ->  ERROR: usage: ... / Flags: / \t--num_runs=50\tint32\toptional\t...

benchmark_model prints no version. Its flags say what it can do: `Flags::Parse` refuses a leading
`--help` and the tool prints `Flags::Usage`, one `\t--name=default\ttype\toptional\ttext` line per flag
it takes (LiteRT tflite/tools/command_line_flags.cc, benchmark/benchmark_model.cc ParseFlags).

Each probe becomes a `Capability`: found, or missing with what bench does instead and the fix.
"""

from __future__ import annotations

import re

from bench.devices.android.state import COMMAND as STATE_COMMAND
from bench.devices.android.state import SEPARATOR, sections
from bench.devices.android.thermal import hal_temperatures, zone_temperatures
from bench.devices.android.tool_flags import FIX, FLAG_SINCE
from bench.results.device_records import Capability, CpuTopology

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
FIXED_PERFORMANCE_COMMAND = "set-fixed-performance-mode-enabled"
COMMAND = "; ".join([
    STATE_COMMAND,
    f"echo {SEPARATOR}sha256sum", "sha256sum /dev/null 2>&1",
    f"echo {SEPARATOR}taskset", "taskset -p $$ 2>&1",
    f"echo {SEPARATOR}power", f"cmd power help 2>&1 | grep -e {FIXED_PERFORMANCE_COMMAND}",
])
_AFFINITY = re.compile(r"affinity mask:\s*([0-9a-fA-F]+)")
_USAGE_FLAG = re.compile(r"^\s*--(\w+)=", re.MULTILINE)
# every flag bench may pass to benchmark_model, and what a tool without it costs
RELIED_ON = {
    "graph": "nothing can be measured", "num_threads": "the thread count is the tool's own",
    "num_runs": "the loop is the tool's default", "warmup_runs": "the loop is the tool's default",
    "min_secs": "the loop is the tool's default", "max_secs": "the loop is the tool's default",
    "warmup_min_secs": "the loop is the tool's default", "run_frequency": "jobs at a fixed rate (--rate-hz) fail",
    "use_xnnpack": "jobs on XNNPACK or the plain CPU kernels fail", "use_gpu": "GPU jobs fail",
    "use_nnapi": "NNAPI jobs fail", "input_layer": "the dynamic-resolution variant fails",
    "input_layer_shape": "the dynamic-resolution variant fails",
    "enable_op_profiling": "no per-operator profile",
    "input_layer_value_files": "accuracy cannot be scored with benchmark_model",
    "output_filepath": "accuracy cannot be scored with benchmark_model",
}


def usage_flags(text: str) -> set[str] | None:
    """The flags a tool's `--help` lists; None when it printed no usage (it did not start, or crashed)."""
    flags = set(_USAGE_FLAG.findall(text))
    return flags if "usage:" in text and flags else None


def phone_capabilities(text: str, *, shell_v2: bool, topology: CpuTopology | None, threads: int | None,
                       sdk: str | None) -> list[Capability]:
    """The answer to COMMAND (with the adbd's shell protocol, the topology and the default threads) as checks."""
    parts = sections(text)
    caps = [
        Capability(name="shell protocol v2", ok=True, detail="exit codes, stderr apart") if shell_v2 else
        Capability(name="shell protocol v2", ok=False, detail="adbd has no shell_v2 (Android 6 or older)",
                   consequence="commands run through shell v1: exit codes read after a sentinel, stderr merged",
                   fix="none needed"),
        Capability(name="sha256sum", ok=True, detail="files pushed only when they changed")
        if EMPTY_SHA256 in parts.get("sha256sum", "") else
        Capability(name="sha256sum", ok=False, detail=_first_line(parts.get("sha256sum")),
                   consequence="bench cannot tell what the phone already has: every file is pushed on every run",
                   fix="none needed (slower, not wrong)"),
    ]
    allowed = _AFFINITY.search(parts.get("taskset", ""))
    caps.append(_pinning(allowed.group(1) if allowed else None, parts.get("taskset"), topology, threads))
    caps += _thermal(parts)
    caps.append(_fixed_performance(parts.get("power", ""), sdk))
    return caps


def _pinning(allowed: str | None, said: str | None, topology: CpuTopology | None,
             threads: int | None) -> Capability:
    if allowed is None:
        return Capability(name="taskset", ok=False, detail=_first_line(said),
                          consequence="threads are not pinned: the scheduler may put them on little cores "
                                      "(slower, noisier numbers)",
                          fix="none on this phone; compare its numbers only with its own")
    if topology is None:
        return Capability(name="CPU topology", ok=False, detail="no cpufreq/cpuinfo_max_freq readable",
                          consequence="threads are not pinned and the default thread count is every core",
                          fix="pass --threads N (the phone's big cores)")
    clusters = " + ".join(f"{len(c)}x{topology.max_khz[c[0]] // 1000} MHz" for c in topology.clusters)
    wanted = threads or 1
    mask = topology.mask(wanted)
    if int(mask, 16) & ~int(allowed, 16):  # the phone confines adb's shell (its cpuset) away from these CPUs
        return Capability(name="taskset", ok=False,
                          detail=f"{clusters}; the shell may use only mask {allowed}, not {mask} for {wanted} threads",
                          consequence="threads are not pinned (taskset would be refused): the scheduler places "
                                      "them within the shell's CPUs",
                          fix="none on this phone; compare its numbers only with its own")
    capacity = ", cpu_capacity" if topology.capacity else ""
    return Capability(name="CPU topology", ok=True,
                      detail=f"{clusters}{capacity}; {wanted} threads on mask {mask} (taskset)")


def _thermal(parts: dict[str, str]) -> list[Capability]:
    """Which temperature sources the phone gives: the cool-down gate and the records read the first one found."""
    hal = hal_temperatures(parts.get("thermal", ""))
    zones = zone_temperatures(parts.get("zones", ""))
    battery = "temperature:" in parts.get("battery", "")
    found = [f"HAL current ({len(hal)} sensors)" if hal else "",
             f"thermal zones ({len(zones)})" if zones else "", "battery" if battery else ""]
    found = [f for f in found if f]
    if hal or zones:
        return [Capability(name="temperatures", ok=True, detail=", ".join(found))]
    return [Capability(name="temperatures", ok=False, detail=", ".join(found) or "none readable",
                       consequence="the cool-down gate and the records have only the battery's temperature"
                       if battery else "no cool-down gate: jobs run however hot the phone is",
                       fix="let the phone cool between runs (a fan, --cooldown-timeout-s)")]


def _fixed_performance(said: str, sdk: str | None) -> Capability:
    if FIXED_PERFORMANCE_COMMAND in said:
        return Capability(name="fixed-performance mode", ok=True, detail="cmd power " + FIXED_PERFORMANCE_COMMAND)
    android = f" (SDK {sdk}; it came in Android 11, SDK 30)" if sdk else ""
    return Capability(name="fixed-performance mode", ok=False, detail=f"cmd power does not offer it{android}",
                      consequence="clocks follow the governor: more run-to-run noise; bench does not try to set it",
                      fix="none on this phone; bench waits for it to cool and records its clocks")


def tool_capabilities(help_text: str | None, *, tool_sha256: str | None, kind: str | None) -> list[Capability]:
    """benchmark_model: does it start on the phone, and which of bench's flags does it take."""
    name = "benchmark_model"
    if help_text is None:
        return [Capability(name=name, ok=False, detail="none for this phone's ABI",
                           consequence="nothing can be measured", fix=FIX[name], blocks_run=True)]
    flags = usage_flags(help_text)
    if flags is None:
        return [Capability(name=name, ok=False, detail=f"did not start: {_first_line(help_text)}",
                           consequence="nothing can be measured",
                           fix="check it is built for this phone's ABI; " + FIX[name], blocks_run=True)]
    release = "TensorFlow 2.10 or newer" if "output_filepath" in flags else "older than TensorFlow 2.10"
    about = f"{kind + ', ' if kind else ''}sha256 {(tool_sha256 or '?')[:12]}, takes {len(flags)} flags ({release})"
    caps = [Capability(name=name, ok=True, detail=about)]
    for flag, cost in RELIED_ON.items():
        if flag not in flags:
            since = f" (it came in {FLAG_SINCE[flag]})" if flag in FLAG_SINCE else ""
            caps.append(Capability(name=f"benchmark_model --{flag}", ok=False, detail=f"not taken{since}",
                                   consequence=cost, fix=FIX[name], blocks_run=flag == "graph"))
    return caps


def run_eval_capability(configured: str | None, problem: str | None) -> Capability:
    if configured is None:
        return Capability(name="run_eval", ok=False, detail="not given",
                          consequence="accuracy is scored with benchmark_model, one launch per image (slower)",
                          fix="give the ImageNet run_eval for this phone's ABI with --run-eval PATH")
    if problem:
        return Capability(name="run_eval", ok=False, detail=problem,
                          consequence="jobs with accuracy keep their timing but get no accuracy",
                          fix="fix --run-eval (or run_eval in devices/*.toml)")
    return Capability(name="run_eval", ok=True, detail=configured)


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:120] if lines else "no answer"
