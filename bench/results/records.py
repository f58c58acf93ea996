"""Result records: what a job measured, on which device, in which state. Units live in the names.

These records import nothing else from bench; every part may import them. Each has `to_dict` and
`from_dict`, and old stored dictionaries must keep loading (missing optional keys read as None).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from bench.results.stats import LatencyStats


class Platform(enum.Enum):
    LOCAL = "local"
    ANDROID = "android"
    IOS = "ios"


class JobStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    id: str
    platform: Platform
    model: str
    soc: str | None = None
    os: str | None = None
    abi: str | None = None
    cores: int | None = None
    build: str | None = None
    simulated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform.value, "model": self.model, "soc": self.soc, "os": self.os,
                "abi": self.abi, "cores": self.cores, "build": self.build, "simulated": self.simulated}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        return cls(id=data["id"], platform=Platform(data["platform"]), model=data["model"], soc=data.get("soc"),
                   os=data.get("os"), abi=data.get("abi"), cores=data.get("cores"), build=data.get("build"),
                   simulated=bool(data.get("simulated", False)))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceState:
    """A snapshot of what affects speed: heat, clocks, load, power. None where unreadable."""

    captured_at: str  # ISO 8601, UTC
    temperatures_c: dict[str, float] = field(default_factory=dict)
    thermal_status: str | None = None
    battery_percent: float | None = None
    charging: bool | None = None
    governor: str | None = None
    cpu_freq_khz: dict[str, int] = field(default_factory=dict)
    load_average_1m: float | None = None
    screen_on: bool | None = None
    fixed_performance: bool | None = None  # Android's fixed performance mode: on, failed to turn on, not asked

    @property
    def hottest_c(self) -> float | None:
        """The hottest CPU reading (zones whose name says cpu), else the hottest of any."""
        cpu = [v for k, v in self.temperatures_c.items() if "cpu" in k.lower()]
        values = cpu or list(self.temperatures_c.values())
        return max(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {"fixed_performance": self.fixed_performance, "captured_at": self.captured_at,
                "temperatures_c": dict(self.temperatures_c),
                "thermal_status": self.thermal_status, "battery_percent": self.battery_percent,
                "charging": self.charging, "governor": self.governor, "cpu_freq_khz": dict(self.cpu_freq_khz),
                "load_average_1m": self.load_average_1m, "screen_on": self.screen_on}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceState:
        return cls(captured_at=data["captured_at"], temperatures_c=dict(data.get("temperatures_c") or {}),
                   thermal_status=data.get("thermal_status"), battery_percent=data.get("battery_percent"),
                   charging=data.get("charging"), governor=data.get("governor"),
                   cpu_freq_khz=dict(data.get("cpu_freq_khz") or {}), load_average_1m=data.get("load_average_1m"),
                   screen_on=data.get("screen_on"), fixed_performance=data.get("fixed_performance"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RawRun:
    """One launch of a benchmark tool: every number it gave, and its output as it was."""

    engine: str
    engine_version: str
    init_ms: float | None
    first_inference_ms: float | None
    warmup_ms: tuple[float, ...]
    latencies_ms: tuple[float, ...]
    peak_rss_after_init_mb: float | None
    peak_rss_mb: float | None
    model_size_bytes: int
    input_shape: tuple[int, ...]
    accelerator_used: str
    raw_output: str
    # The tool's own statistics of the timed runs, for tools that print no per-run list
    # (benchmark_model): count, avg, std, min, max and, where printed, first, p5, median, p95 (ms).
    summary_ms: dict[str, float] | None = None
    # benchmark_model's own memory lines: growth of its peak RSS from the tool's start (MB)
    tool_memory_init_delta_mb: float | None = None
    tool_memory_overall_delta_mb: float | None = None
    # delegates as the tool reported them: name, status (full/partial/none/failed), nodes, partitions
    delegates: tuple[dict[str, Any], ...] = ()
    # --enable_op_profiling: operators in run order and totals by type (bench.engines.op_profile)
    op_profile: dict[str, Any] | None = None
    # Core ML on iOS: compiling the package on the device, and phys_footprint (what iOS counts against
    # the app's memory limit) as the app read it after loading and at its peak, and as sampled from the host
    compile_ms: float | None = None
    phys_footprint_after_load_mb: float | None = None
    phys_footprint_peak_mb: float | None = None
    sampled_phys_footprint_peak_mb: float | None = None
    # Core ML's compute plan (iOS 17.4+): how many operations each compute device was given
    compute_plan: dict[str, int] | None = None
    # where the tool gives them: each timed run's start since the first (s), and the timed runs' wall time
    # (s, sleeps of --run_frequency included)
    run_starts_s: tuple[float, ...] = ()
    timed_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_starts_s": list(self.run_starts_s), "timed_s": self.timed_s, "compile_ms": self.compile_ms,
                "phys_footprint_after_load_mb": self.phys_footprint_after_load_mb,
                "phys_footprint_peak_mb": self.phys_footprint_peak_mb,
                "sampled_phys_footprint_peak_mb": self.sampled_phys_footprint_peak_mb,
                "compute_plan": self.compute_plan, "op_profile": self.op_profile, "summary_ms": self.summary_ms,
                "tool_memory_init_delta_mb": self.tool_memory_init_delta_mb,
                "tool_memory_overall_delta_mb": self.tool_memory_overall_delta_mb,
                "delegates": [dict(d) for d in self.delegates], "engine": self.engine,
                "engine_version": self.engine_version,
                "init_ms": self.init_ms,
                "first_inference_ms": self.first_inference_ms, "warmup_ms": list(self.warmup_ms),
                "latencies_ms": list(self.latencies_ms), "peak_rss_after_init_mb": self.peak_rss_after_init_mb,
                "peak_rss_mb": self.peak_rss_mb, "model_size_bytes": self.model_size_bytes,
                "input_shape": list(self.input_shape), "accelerator_used": self.accelerator_used,
                "raw_output": self.raw_output}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RawRun:
        return cls(engine=data["engine"], engine_version=data["engine_version"], init_ms=data.get("init_ms"),
                   first_inference_ms=data.get("first_inference_ms"), warmup_ms=tuple(data.get("warmup_ms") or ()),
                   latencies_ms=tuple(data["latencies_ms"]), peak_rss_after_init_mb=data.get("peak_rss_after_init_mb"),
                   peak_rss_mb=data.get("peak_rss_mb"), model_size_bytes=int(data["model_size_bytes"]),
                   input_shape=tuple(data["input_shape"]), accelerator_used=data["accelerator_used"],
                   raw_output=data.get("raw_output", ""), summary_ms=data.get("summary_ms"),
                   tool_memory_init_delta_mb=data.get("tool_memory_init_delta_mb"),
                   tool_memory_overall_delta_mb=data.get("tool_memory_overall_delta_mb"),
                   delegates=tuple(data.get("delegates") or ()), op_profile=data.get("op_profile"),
                   compile_ms=data.get("compile_ms"),
                   phys_footprint_after_load_mb=data.get("phys_footprint_after_load_mb"),
                   phys_footprint_peak_mb=data.get("phys_footprint_peak_mb"),
                   sampled_phys_footprint_peak_mb=data.get("sampled_phys_footprint_peak_mb"),
                   compute_plan=data.get("compute_plan"), run_starts_s=tuple(data.get("run_starts_s") or ()),
                   timed_s=data.get("timed_s"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyResult:
    top1: float
    top5: float
    images: int
    subset: dict[str, Any]  # split, rule, requested, count, names_sha256
    failed_images: int = 0
    top1_agreement_with_fp32: float | None = None
    predictions_top5: tuple[tuple[int, ...], ...] = ()  # per image, in subset order
    duration_s: float | None = None  # wall time of the accuracy job: loading inputs, launching, scoring
    # on a phone: the same file run on the host CPU over the same images; top1_agreement and
    # mean_abs_output_diff show an accelerator's numeric problems apart from the variant's own error
    host_reference: dict[str, Any] | None = None
    # None: bench fed the variant's own preprocessing and ranked every output itself. Otherwise the tool
    # that scored the images by itself (run_eval): its name, sha256, preprocessing, delegate flag, top-1..10
    scored_by: dict[str, Any] | None = None
    # per image, in subset order: "1" where the first class was right: what a later night is compared on
    correct_top1: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"correct_top1": self.correct_top1, "scored_by": self.scored_by, "top1": self.top1,
                "top5": self.top5, "images": self.images,
                "subset": dict(self.subset),
                "failed_images": self.failed_images, "top1_agreement_with_fp32": self.top1_agreement_with_fp32,
                "predictions_top5": [list(p) for p in self.predictions_top5], "duration_s": self.duration_s,
                "host_reference": self.host_reference}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyResult:
        return cls(top1=data["top1"], top5=data["top5"], images=int(data["images"]), subset=dict(data["subset"]),
                   failed_images=int(data.get("failed_images", 0)),
                   top1_agreement_with_fp32=data.get("top1_agreement_with_fp32"),
                   predictions_top5=tuple(tuple(p) for p in data.get("predictions_top5") or ()),
                   duration_s=data.get("duration_s"), host_reference=data.get("host_reference"),
                   scored_by=data.get("scored_by"), correct_top1=data.get("correct_top1", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedWindow:
    """One launch of the tool in a sustained job: its timed runs, every latency where the tool gives them."""

    start_s: float  # when its timed runs began, since the job's first window
    timed_s: float  # the timed runs' wall time, --run_frequency's sleeps included
    count: int
    latencies_ms: tuple[float, ...] = ()
    run_starts_s: tuple[float, ...] = ()  # each run's start since the window's, where the tool gives them
    mean_ms: float | None = None  # the tool's summary, where it gives no per-run list
    std_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "timed_s": self.timed_s, "count": self.count,
                "latencies_ms": list(self.latencies_ms), "run_starts_s": list(self.run_starts_s),
                "mean_ms": self.mean_ms, "std_ms": self.std_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SustainedWindow:
        return cls(start_s=data["start_s"], timed_s=data["timed_s"], count=data["count"],
                   latencies_ms=tuple(data.get("latencies_ms") or ()),
                   run_starts_s=tuple(data.get("run_starts_s") or ()), mean_ms=data.get("mean_ms"),
                   std_ms=data.get("std_ms"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedResult:
    """A sustained job: the model run for `duration_s` (at `rate_hz`, or back to back), window by window,
    with the device's state sampled alongside, and what bench.results.sustained found in them."""

    duration_s: float
    rate_hz: float  # 0: back to back
    window_s: float
    windows: tuple[SustainedWindow, ...]
    samples: tuple[tuple[float, DeviceState], ...]  # (seconds since the first window, state)
    minutes: tuple[dict[str, Any], ...] = ()  # minute, p50/p90/p99/mean ms, fps, dropped_share
    throttle_onset_s: float | None = None
    throttle_evidence: str = ""
    dropped_share: float | None = None  # of the frames offered at rate_hz
    dropped_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "rate_hz": self.rate_hz, "window_s": self.window_s,
                "windows": [w.to_dict() for w in self.windows],
                "samples": [{"t_s": t, "state": state.to_dict()} for t, state in self.samples],
                "minutes": [dict(m) for m in self.minutes], "throttle_onset_s": self.throttle_onset_s,
                "throttle_evidence": self.throttle_evidence, "dropped_share": self.dropped_share,
                "dropped_method": self.dropped_method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SustainedResult:
        return cls(duration_s=data["duration_s"], rate_hz=data["rate_hz"], window_s=data["window_s"],
                   windows=tuple(SustainedWindow.from_dict(w) for w in data["windows"]),
                   samples=tuple((s["t_s"], DeviceState.from_dict(s["state"])) for s in data["samples"]),
                   minutes=tuple(data.get("minutes") or ()), throttle_onset_s=data.get("throttle_onset_s"),
                   throttle_evidence=data.get("throttle_evidence", ""), dropped_share=data.get("dropped_share"),
                   dropped_method=data.get("dropped_method"))


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """Everything one job produced, with what makes it comparable to another."""

    job_id: str
    model: str
    variant: str
    model_sha256: str
    accelerator: str
    threads: int
    status: JobStatus
    error: str | None = None
    raw: RawRun | None = None
    latency_ms: LatencyStats | None = None
    warnings: tuple[str, ...] = ()
    accuracy: AccuracyResult | None = None
    state_before: DeviceState | None = None
    state_after: DeviceState | None = None
    # the cool-down gate before the job: below_c, waited_s, start_temp_c, end_temp_c, reached
    cooldown: dict[str, Any] | None = None
    sustained: SustainedResult | None = None
    # a job run at the same time as others (bench.run.concurrent): with whom, its slowdown against its job
    # alone, its FPS together and alone, the group's total FPS, the share of wall time the tools shared
    concurrent: dict[str, Any] | None = None
    # a pipeline of models (bench.run.pipelines): each stage's numbers, frames, FPS, dropped frames
    pipeline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sustained": self.sustained.to_dict() if self.sustained else None, "concurrent": self.concurrent,
                "pipeline": self.pipeline,
                "job_id": self.job_id,
                "model": self.model, "variant": self.variant,
                "model_sha256": self.model_sha256, "accelerator": self.accelerator, "threads": self.threads,
                "status": self.status.value, "error": self.error, "raw": self.raw.to_dict() if self.raw else None,
                "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
                "warnings": list(self.warnings), "accuracy": self.accuracy.to_dict() if self.accuracy else None,
                "state_before": self.state_before.to_dict() if self.state_before else None,
                "state_after": self.state_after.to_dict() if self.state_after else None,
                "cooldown": self.cooldown}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        def opt(key: str, kind: Any) -> Any:
            return kind.from_dict(data[key]) if data.get(key) else None

        return cls(job_id=data["job_id"], model=data["model"], variant=data["variant"],
                   model_sha256=data["model_sha256"], accelerator=data["accelerator"], threads=int(data["threads"]),
                   status=JobStatus(data["status"]), error=data.get("error"), raw=opt("raw", RawRun),
                   latency_ms=opt("latency_ms", LatencyStats), warnings=tuple(data.get("warnings") or ()),
                   accuracy=opt("accuracy", AccuracyResult), state_before=opt("state_before", DeviceState),
                   state_after=opt("state_after", DeviceState), cooldown=data.get("cooldown"),
                   sustained=opt("sustained", SustainedResult), concurrent=data.get("concurrent"),
                   pipeline=data.get("pipeline"))
