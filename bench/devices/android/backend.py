"""An Android phone as a benchmark device, reached through the adb server with adbutils.

Files go to /data/local/tmp/bench/ (models under models/<sha256>.tflite, the tool as
benchmark_model), each pushed only when its sha256 on the phone differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.devices.android import adb
from bench.devices.android import capabilities as probes
from bench.devices.android.accuracy import classify_on_phone
from bench.devices.android.run_eval import evaluate_on_phone, why_not_run_eval
from bench.devices.android.run_tool import command_line, run_tool
from bench.devices.android.state import COMMAND as STATE_COMMAND
from bench.devices.android.state import parse_state
from bench.devices.android.tool_flags import check_flags_taken
from bench.devices.android.tool_result import exit_text, raw_run
from bench.devices.android.tools import binary_problem
from bench.devices.android.topology import COMMAND as TOPOLOGY_COMMAND
from bench.devices.android.topology import parse_topology
from bench.devices.base import AccuracyInputs, Execution, HealthFacts, ModelJob
from bench.engines.silence import SilenceWatch
from bench.errors import BenchError, DeviceError, DeviceNotReadyError, ToolFailedError
from bench.fileio import sha256_unchanged_file, write_text_atomic
from bench.paths import cache_dir
from bench.results.device_records import Accelerator, Capability, CpuTopology, DeviceInfo, DeviceState, Platform
from bench.results.records import RawRun

log = logging.getLogger(__name__)

REMOTE_ROOT = "/data/local/tmp/bench"
REMOTE_TOOL = f"{REMOTE_ROOT}/benchmark_model"
SIMULATED_MANUFACTURER = "bench-sim"
RECONNECT_WAIT_S = 15.0


def remote_model_path(sha256: str) -> str:
    return f"{REMOTE_ROOT}/models/{sha256}.tflite"


class AndroidDevice:
    """One phone. `tool` is the host copy of `benchmark_model` built for the phone's ABI."""

    platform = Platform.ANDROID

    def __init__(self, alias: str, serial: str, adb_client: Any, tool: Path | None = None,
                 tool_for_abi: Callable[[str], Path | None] | None = None, run_eval: Path | None = None) -> None:
        self.alias = alias
        self.serial = serial
        self.adb_client = adb_client
        self.tool = tool
        self.tool_for_abi = tool_for_abi  # where a fetched tool is found when none was given
        self.run_eval = run_eval  # ImageNet run_eval for the phone's ABI: when given, it scores accuracy
        self._device: Any = None
        self.pushed_bytes = 0
        self.fixed_performance: bool | None = None
        self._topology: CpuTopology | None = None
        self._capabilities: dict[str, Capability] | None = None
        self.sample_memory = True  # the phone-side VmHWM loop (benchmarks/android_sampling.py turns it off)

    @property
    def device(self) -> Any:
        if self._device is None:
            self._device = adb.device(self.adb_client, self.serial)
        return self._device

    def wait_online(self, timeout_s: float = RECONNECT_WAIT_S) -> None:
        """A phone that dropped off USB (or Wi-Fi) usually comes back within seconds: wait for it."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = {a.serial: a.state for a in adb.attached(self.adb_client)}
            if states.get(self.serial) == "device":
                return
            if time.monotonic() > deadline:
                state = states.get(self.serial, "not attached")
                raise DeviceNotReadyError(f"phone {self.serial} is {state} and did not come back in "
                                          f"{timeout_s:.0f} s; reconnect it, then resume with --resume")
            time.sleep(0.5)

    def describe(self) -> DeviceInfo:
        props = adb.getprops(self.device)
        _, possible = adb.shell(self.device, "cat /sys/devices/system/cpu/possible")
        topology = self.topology()
        return DeviceInfo(
            id=self.serial,
            platform=Platform.ANDROID,
            model=f"{props.get('ro.product.manufacturer', '')} {props.get('ro.product.model', '?')}".strip(),
            soc=props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware"),
            os=f"Android {props.get('ro.build.version.release', '?')} (SDK {props.get('ro.build.version.sdk', '?')})",
            abi=props.get("ro.product.cpu.abi"),
            cores=_count_cpus(possible.strip()),
            build=props.get("ro.build.fingerprint"),
            simulated=props.get("ro.product.manufacturer") == SIMULATED_MANUFACTURER,
            cpu_topology=topology,
        )

    def snapshot(self) -> DeviceState:
        self.wait_online()  # the first thing every job asks: after a dropped link, give the phone time to return
        _, text = adb.shell(self.device, STATE_COMMAND)
        return replace(parse_state(text), fixed_performance=self.fixed_performance)

    def health_facts(self) -> HealthFacts:
        """Free bytes where bench writes and any benchmark tool already running (`pidof`): a lab's pre-flight."""
        free = adb.free_bytes(self.device, "/data/local/tmp")
        _, pids = adb.shell(self.device, "pidof benchmark_model benchmark_model_plus_flex run_eval 2>/dev/null")
        return HealthFacts(free_bytes=free, other_benchmark=f"pid {pids.strip()}" if pids.strip() else None)

    def set_fixed_performance(self, on: bool) -> bool:
        """Android's fixed performance mode (Android 11+): steady clocks, for stable numbers. True if it took."""
        if not self._has("fixed-performance mode"):  # probed: the phone has none, so nothing to try or undo
            self.fixed_performance = None
            return False
        code, text = adb.shell(self.device, f"cmd power set-fixed-performance-mode-enabled {str(on).lower()}")
        if code != 0:
            log.warning("%s: fixed performance mode not available (%s)", self.serial, text.strip()[:100])
        self.fixed_performance = (code == 0) if on else None
        return code == 0

    def capabilities(self, threads: int | None, fresh: bool = False) -> tuple[Capability, ...]:
        """What this phone offers bench (bench.devices.android.capabilities): probed once per build
        fingerprint, tool and thread count, and cached; `fresh` probes again."""
        props = adb.getprops(self.device)
        tool = self._resolve_tool(props.get("ro.product.cpu.abi"))
        key = hashlib.sha256(json.dumps([self.serial, props.get("ro.build.fingerprint"), threads,
                                         self.tool_sha256() if tool else None,
                                         str(self.run_eval) if self.run_eval else None]).encode()).hexdigest()
        path = cache_dir() / "capabilities" / f"{key[:32]}.json"
        caps: tuple[Capability, ...] | None = None
        if not fresh:
            try:
                caps = tuple(Capability.from_dict(c) for c in json.loads(path.read_text()))
            except (OSError, ValueError, KeyError):
                caps = None
        if caps is None:
            caps = self._probe(props, tool, threads)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps([c.to_dict() for c in caps], indent=1) + "\n")
        self._capabilities = {c.name: c for c in caps}
        return caps

    def _probe(self, props: dict[str, str], tool: Path | None, threads: int | None) -> tuple[Capability, ...]:
        abi = props.get("ro.product.cpu.abi")
        _, text = adb.shell(self.device, probes.COMMAND)
        caps = probes.phone_capabilities(text, shell_v2=adb.has_shell_v2(self.device), topology=self.topology(),
                                         threads=threads, sdk=props.get("ro.build.version.sdk"))
        help_text = None
        if tool is not None:
            problem = binary_problem(tool, abi)
            if problem is None:
                self.pushed_bytes += adb.push_if_changed(self.device, [(tool, self.tool_sha256(), REMOTE_TOOL)],
                                                         mode=0o755)
                _, help_text = adb.shell(self.device, f"{REMOTE_TOOL} --help", timeout_s=60)
            else:
                help_text = problem
        caps += probes.tool_capabilities(help_text, tool_sha256=self.tool_sha256() if tool else None,
                                         kind="simulated" if props.get("ro.product.manufacturer") ==
                                         SIMULATED_MANUFACTURER else abi)
        run_eval_problem = None
        if self.run_eval is not None:
            run_eval_problem = "the file does not exist" if not self.run_eval.is_file() else \
                binary_problem(self.run_eval, abi)
        caps.append(probes.run_eval_capability(str(self.run_eval) if self.run_eval else None, run_eval_problem))
        return tuple(caps)

    def _has(self, name: str) -> bool:
        """Whether the probe found `name` (True before any probe: the run probes first)."""
        cap = (self._capabilities or {}).get(name)
        return cap is None or cap.ok

    def _resolve_tool(self, abi: str | None) -> Path | None:
        if self.tool is None and self.tool_for_abi is not None:
            self.tool = self.tool_for_abi(abi or "")
        return self.tool if self.tool is not None and self.tool.is_file() else None

    def prepare(self, job: ModelJob) -> None:
        """Push the model and the tool unless the phone already has these exact bytes.

        The job's snapshot, taken just before, has already waited for a phone that dropped off.
        """
        if not job.model_path.is_file():
            raise DeviceError(f"model file {job.model_path} is missing; rebuild it with: python -m bench models build")
        if self.tool is None and self.tool_for_abi is not None:
            self._resolve_tool(adb.getprops(self.device).get("ro.product.cpu.abi", ""))
        if self.tool is None or not self.tool.is_file():
            raise DeviceError(f"no benchmark_model for {self.serial}'s ABI; give one with --benchmark-model PATH "
                              "or fetch the official build with: python -m bench tools fetch")
        pairs = [(job.model_path, job.model_sha256, remote_model_path(job.model_sha256)),
                 (self.tool, self.tool_sha256(), REMOTE_TOOL)]
        moved = adb.push_if_changed(self.device, pairs, executables=frozenset({pairs[1][2]}))
        self.pushed_bytes += moved
        # said only when something moved: a phone that has the files already needs no line per job
        log.log(logging.INFO if moved else logging.DEBUG, "%s: pushed %d bytes for %s", self.serial, moved, job.job_id)

    def topology(self) -> CpuTopology | None:
        """Each CPU's clock and capacity, read once: the mask and the default thread count come from it."""
        if self._topology is None:
            _, text = adb.shell(self.device, TOPOLOGY_COMMAND)
            self._topology = parse_topology(text) or CpuTopology(max_khz={})
        return self._topology if self._topology.max_khz else None

    def execute(self, job: ModelJob, accuracy: AccuracyInputs | None = None) -> Execution:
        """Run benchmark_model on the phone (timing, its memory lines, VmHWM sampled on the phone,
        delegates), then score the images; the timing stands when scoring fails."""
        assert self.tool is not None  # prepare() checked it
        s = job.settings
        flags = {"graph": remote_model_path(job.model_sha256), "num_threads": str(job.threads), **s.loop.to_flags(),
                 "use_xnnpack": str(job.accelerator == Accelerator.XNNPACK).lower()}
        if job.accelerator == Accelerator.GPU:
            flags["use_gpu"] = "true"
        if job.accelerator == Accelerator.NNAPI:
            flags["use_nnapi"] = "true"
        if job.input_shape:  # the tool takes a shape only for an input it was told the name of
            flags["input_layer"] = job.input_name
            flags["input_layer_shape"] = ",".join(str(d) for d in job.input_shape)
        if s.op_profiling:
            flags["enable_op_profiling"] = "true"
        # no --report_peak_memory_footprint: its 50 ms polling thread would share the pinned cores while
        # timing; the phone-side sampler reads VmHWM from off those cores instead
        # None when the phone hides its clocks or has no taskset (bench devices --check says which): not pinned
        topology = self.topology() if self._has("taskset") else None
        mask = topology.mask(job.threads) if topology else None
        line = command_line(REMOTE_TOOL, flags, mask, sample_memory=self.sample_memory,
                            sampler_mask=topology.spare_mask(job.threads) if topology else None)
        run = run_tool(self.device, line, timeout_s=s.watchdog_s, watch=SilenceWatch(
            load_margin_s=s.watchdog_margin_s, run_frequency_hz=s.loop.run_frequency_hz))
        try:
            check_flags_taken(run.output, set(flags))
            raw = raw_run(run.output, requested=job.accelerator, model_size_bytes=job.model_path.stat().st_size,
                          input_shape=job.input_shape or (), tool_sha256=self.tool_sha256(),
                          sampled_vmhwm_mb=run.sampled_vmhwm_mb, cpu_mask=mask, exit_code=run.exit_code)
            if run.exit_code not in (0, None):  # it printed its results, then failed
                raise ToolFailedError(f"benchmark_model ended with {exit_text(run.exit_code)} on {self.serial} "
                                      "after printing its results")
        except BenchError as exc:  # the job fails, and keeps what the tool printed
            exc.output = exc.output or run.output
            raise
        if accuracy is None:
            return Execution(raw=raw)
        try:
            return self._score(job, accuracy, raw, flags, mask)
        except BenchError as exc:  # the timing was measured: keep it, say why accuracy is missing
            log.warning("%s: accuracy not measured: %s", job.job_id, exc)
            return Execution(raw=raw, accuracy_error=str(exc))

    def _score(self, job: ModelJob, accuracy: AccuracyInputs, raw: RawRun, flags: dict[str, str],
               mask: str | None) -> Execution:
        """The images' top classes: with run_eval where it can feed this model as timed, else with benchmark_model."""
        unsuitable, classes = None, 0
        if self.run_eval is not None:
            if not self.run_eval.is_file():
                raise DeviceError(f"run_eval {self.run_eval} does not exist; fix --run-eval (or run_eval in "
                                  "devices/*.toml), or leave it out to score with benchmark_model")
            unsuitable, classes = why_not_run_eval(job.model_path, accuracy, job.input_shape)
        if self.run_eval is not None and unsuitable is None:
            scored = evaluate_on_phone(self.device, root=REMOTE_ROOT, tool=self.run_eval,
                                       tool_sha256=sha256_unchanged_file(self.run_eval), remote_model=flags["graph"],
                                       accuracy=accuracy, classes=classes, threads=job.threads,
                                       accelerator=job.accelerator, cpu_mask=mask)
            self.pushed_bytes += int(scored["pushed_bytes"])
            return Execution(raw=raw, tool_accuracy=scored)
        if unsuitable is not None:  # a wrong number is worse than another tool: say why in the result
            log.warning("%s: not scored with run_eval (%s); scoring with benchmark_model", job.job_id, unsuitable)
        top5, scores, wall_s = classify_on_phone(
            self.device, job.model_path, flags["graph"], REMOTE_TOOL,
            {k: v for k, v in flags.items() if k not in ("graph", "input_layer", "input_layer_shape",
                                                         "enable_op_profiling")}, accuracy, job.input_shape)
        scored_by = None if unsuitable is None else {"tool": "benchmark_model", "run_eval_not_used": unsuitable}
        return Execution(raw=raw, top5=top5, classify_wall_s=wall_s, scores=scores, tool_accuracy=scored_by)

    def tool_sha256(self) -> str:
        """sha256 of the host's copy of the tool, hashed again only when the file changes."""
        assert self.tool is not None
        return sha256_unchanged_file(self.tool)

    def cleanup(self) -> None:
        """Remove everything bench put on the phone."""
        adb.shell(self.device, f"rm -rf {REMOTE_ROOT}")


def _count_cpus(possible: str) -> int | None:
    """`0-7` or `0-3,6` -> number of CPUs."""
    total = 0
    for part in possible.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not match:
            return None
        total += int(match.group(2) or match.group(1)) - int(match.group(1)) + 1
    return total or None
