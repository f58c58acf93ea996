"""Result records: what a job measured, on which device, in which state. Units live in the names.

These records import nothing else from bench; every part may import them. Each has `to_dict` and
`from_dict`, and old stored dictionaries must keep loading (missing optional keys read as None).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from bench.results.device_records import DeviceState
from bench.results.stats import LatencyStats, ToolSummary


class JobStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"


class FailureKind(enum.Enum):
    """Why a job failed, which decides whether `--resume` runs it again."""

    TRANSPORT = "transport"  # the phone was lost, hung or the link failed: another try may well succeed
    NOT_RUN = "not-run"  # never started: the phone was gone before its turn
    TOOL = "tool"  # the tool or the model failed on its own: it would fail again

    @property
    def retried_on_resume(self) -> bool:
        return self is not FailureKind.TOOL


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
    # the tool's own statistics of the timed runs, for tools that print no per-run list (benchmark_model)
    summary: ToolSummary | None = None
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
    phys_footprint_peak_mb: float | None = None  # the app's lifetime peak: compile, load and predictions
    sampled_phys_footprint_peak_mb: float | None = None
    # the app's own peak within each phase (runner builds that read them; None before)
    phys_footprint_compile_peak_mb: float | None = None
    phys_footprint_load_peak_mb: float | None = None
    phys_footprint_predict_peak_mb: float | None = None
    # Core ML's compute plan (iOS 17.4+): how many operations each compute device was given, or why there is none
    compute_plan: dict[str, int] | None = None
    compute_plan_unavailable: str | None = None
    # where the tool gives them: each timed run's start since the first (s), and the timed runs' wall time
    # (s, sleeps of --run_frequency included)
    run_starts_s: tuple[float, ...] = ()
    timed_s: float | None = None
    cpu_mask: str | None = None  # the taskset mask the tool ran under (a phone), hex

    @property
    def timed_count(self) -> int:
        """The timed runs: every one the tool gave, else the count it printed."""
        return len(self.latencies_ms) or (self.summary.count if self.summary else 0)

    @property
    def peak_memory_mb(self) -> float | None:
        """Peak memory as the platform counts it: VmHWM (Linux, Android), else phys_footprint (iOS) during the
        timed predictions, or the app's lifetime peak where the runner did not read phases."""
        if self.peak_rss_mb is not None:
            return self.peak_rss_mb
        if self.phys_footprint_predict_peak_mb is not None:
            return self.phys_footprint_predict_peak_mb
        return self.phys_footprint_peak_mb

    @property
    def peak_memory_kind(self) -> str | None:
        """Which peak_memory_mb is: "vmhwm", "phys_footprint" (during predictions), "phys_footprint lifetime"
        (compile and load included), or None when none was read."""
        if self.peak_rss_mb is not None:
            return "vmhwm"
        if self.phys_footprint_predict_peak_mb is not None:
            return "phys_footprint"
        return "phys_footprint lifetime" if self.phys_footprint_peak_mb is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"cpu_mask": self.cpu_mask, "run_starts_s": list(self.run_starts_s), "timed_s": self.timed_s,
                "compile_ms": self.compile_ms,
                "phys_footprint_after_load_mb": self.phys_footprint_after_load_mb,
                "phys_footprint_peak_mb": self.phys_footprint_peak_mb,
                "sampled_phys_footprint_peak_mb": self.sampled_phys_footprint_peak_mb,
                "phys_footprint_compile_peak_mb": self.phys_footprint_compile_peak_mb,
                "phys_footprint_load_peak_mb": self.phys_footprint_load_peak_mb,
                "phys_footprint_predict_peak_mb": self.phys_footprint_predict_peak_mb,
                "compute_plan": self.compute_plan, "compute_plan_unavailable": self.compute_plan_unavailable,
                "op_profile": self.op_profile,
                "summary_ms": self.summary.to_dict() if self.summary else None,
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
                   raw_output=data.get("raw_output", ""), summary=_summary(data),
                   tool_memory_init_delta_mb=data.get("tool_memory_init_delta_mb"),
                   tool_memory_overall_delta_mb=data.get("tool_memory_overall_delta_mb"),
                   delegates=tuple(data.get("delegates") or ()), op_profile=data.get("op_profile"),
                   compile_ms=data.get("compile_ms"),
                   phys_footprint_after_load_mb=data.get("phys_footprint_after_load_mb"),
                   phys_footprint_peak_mb=data.get("phys_footprint_peak_mb"),
                   sampled_phys_footprint_peak_mb=data.get("sampled_phys_footprint_peak_mb"),
                   phys_footprint_compile_peak_mb=data.get("phys_footprint_compile_peak_mb"),
                   phys_footprint_load_peak_mb=data.get("phys_footprint_load_peak_mb"),
                   phys_footprint_predict_peak_mb=data.get("phys_footprint_predict_peak_mb"),
                   compute_plan=data.get("compute_plan"), compute_plan_unavailable=data.get("compute_plan_unavailable"),
                   run_starts_s=tuple(data.get("run_starts_s") or ()),
                   timed_s=data.get("timed_s"), cpu_mask=data.get("cpu_mask"))


def _summary(data: dict[str, Any]) -> ToolSummary | None:
    summary = data.get("summary_ms")
    return ToolSummary.from_dict(summary) if summary else None


@dataclass(frozen=True, slots=True, kw_only=True)
class HostReference:
    """A phone's outputs against the same model file run on the host CPU over the same images: an
    accelerator's numeric problems, apart from the variant's own error. `error` when they cannot be compared."""

    reference: str  # what was run on the host
    top1_agreement: float | None = None
    mean_abs_output_diff: float | None = None
    max_abs_output_diff: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reference": self.reference}
        if self.error is not None:
            return out | {"error": self.error}
        return out | {"top1_agreement": self.top1_agreement, "mean_abs_output_diff": self.mean_abs_output_diff,
                      "max_abs_output_diff": self.max_abs_output_diff}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostReference:
        return cls(reference=data.get("reference", ""), top1_agreement=data.get("top1_agreement"),
                   mean_abs_output_diff=data.get("mean_abs_output_diff"),
                   max_abs_output_diff=data.get("max_abs_output_diff"), error=data.get("error"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyResult:
    top1: float
    top5: float
    images: int
    subset: dict[str, Any]  # split, rule, requested, count, names_sha256
    failed_images: int = 0
    unreadable: tuple[tuple[str, str], ...] = ()  # the failed images: (file name, why it could not be read)
    top1_agreement_with_fp32: float | None = None
    predictions_top5: tuple[tuple[int, ...], ...] = ()  # per image, in subset order
    duration_s: float | None = None  # wall time of the accuracy job: loading inputs, launching, scoring
    # on a phone: the same file run on the host CPU over the same images; top1_agreement and
    # mean_abs_output_diff show an accelerator's numeric problems apart from the variant's own error
    host_reference: HostReference | None = None
    # None: bench fed the variant's own preprocessing and ranked every output itself. Otherwise the tool
    # that scored the images by itself (run_eval): its name, sha256, preprocessing, delegate flag, top-1..10
    scored_by: dict[str, Any] | None = None
    # per image, in subset order: "1" where the first class was right: what a later night is compared on
    correct_top1: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"correct_top1": self.correct_top1, "scored_by": self.scored_by, "top1": self.top1,
                "top5": self.top5, "images": self.images,
                "subset": dict(self.subset),
                "failed_images": self.failed_images, "unreadable": [list(u) for u in self.unreadable],
                "top1_agreement_with_fp32": self.top1_agreement_with_fp32,
                "predictions_top5": [list(p) for p in self.predictions_top5], "duration_s": self.duration_s,
                "host_reference": self.host_reference.to_dict() if self.host_reference else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyResult:
        return cls(top1=data["top1"], top5=data["top5"], images=int(data["images"]), subset=dict(data["subset"]),
                   failed_images=int(data.get("failed_images", 0)),
                   unreadable=tuple((str(n), str(r)) for n, r in data.get("unreadable") or ()),
                   top1_agreement_with_fp32=data.get("top1_agreement_with_fp32"),
                   predictions_top5=tuple(tuple(p) for p in data.get("predictions_top5") or ()),
                   duration_s=data.get("duration_s"),
                   host_reference=HostReference.from_dict(h) if (h := data.get("host_reference")) else None,
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
class CooldownWait:
    """The cool-down gate before a job: how long it waited for the device's hottest CPU zone to fall below
    `below_c`, and whether it did before the timeout (the job runs either way)."""

    below_c: float
    waited_s: float
    start_temp_c: float | None
    end_temp_c: float | None
    reached: bool

    def to_dict(self) -> dict[str, Any]:
        return {"below_c": self.below_c, "waited_s": self.waited_s, "start_temp_c": self.start_temp_c,
                "end_temp_c": self.end_temp_c, "reached": self.reached}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CooldownWait:
        return cls(below_c=float(data["below_c"]), waited_s=float(data["waited_s"]),
                   start_temp_c=data.get("start_temp_c"), end_temp_c=data.get("end_temp_c"),
                   reached=bool(data["reached"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Contention:
    """A job run at the same time as others (bench.run.concurrent): with whom, its slowdown against its job
    alone, its FPS together and alone, the group's total FPS, the share of wall time the tools shared."""

    with_variants: tuple[str, ...]
    solo_job: str | None  # the same variant's job alone in the same run, if it was measured
    center_ms: float | None
    solo_center_ms: float | None
    slowdown: float | None  # center_ms / solo_center_ms
    fps: float | None
    solo_fps: float | None
    group_fps: float
    shared_wall_share: float  # of the group's wall time, with every tool running
    center: str  # "median of the runs" or "the tool's mean"

    def to_dict(self) -> dict[str, Any]:
        return {"with": list(self.with_variants), "solo_job": self.solo_job, "center_ms": self.center_ms,
                "solo_center_ms": self.solo_center_ms, "slowdown": self.slowdown, "fps": self.fps,
                "solo_fps": self.solo_fps, "group_fps": self.group_fps, "shared_wall_share": self.shared_wall_share,
                "center": self.center}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contention:
        return cls(with_variants=tuple(data["with"]), solo_job=data.get("solo_job"), center_ms=data.get("center_ms"),
                   solo_center_ms=data.get("solo_center_ms"), slowdown=data.get("slowdown"), fps=data.get("fps"),
                   solo_fps=data.get("solo_fps"), group_fps=float(data["group_fps"]),
                   shared_wall_share=float(data["shared_wall_share"]), center=data.get("center", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameStage:
    """One model of a frames job: the frames it ran on (every `every`-th) and its own latency."""

    model: str
    variant: str
    every: int
    model_sha256: str
    runs: int
    init_ms: float | None
    p50_ms: float | None
    mean_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "variant": self.variant, "every": self.every, "model_sha256": self.model_sha256,
                "runs": self.runs, "init_ms": self.init_ms, "p50_ms": self.p50_ms, "mean_ms": self.mean_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameStage:
        return cls(model=data["model"], variant=data["variant"], every=int(data["every"]),
                   model_sha256=data["model_sha256"], runs=int(data["runs"]), init_ms=data.get("init_ms"),
                   p50_ms=data.get("p50_ms"), mean_ms=data.get("mean_ms"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FramesResult:
    """Models fed one after another, frame by frame (bench.run.frames): each stage's numbers, the frames,
    frames per second, and the share dropped at `rate_hz` by a latest-frame camera pipeline."""

    stages: tuple[FrameStage, ...]
    frames: int
    rate_hz: float | None
    fps: float | None
    dropped_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [s.to_dict() for s in self.stages], "frames": self.frames, "rate_hz": self.rate_hz,
                "fps": self.fps, "dropped_share": self.dropped_share}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FramesResult:
        return cls(stages=tuple(FrameStage.from_dict(s) for s in data["stages"]), frames=int(data["frames"]),
                   rate_hz=data.get("rate_hz"), fps=data.get("fps"), dropped_share=data.get("dropped_share"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedMinute:
    """One minute of a sustained job: its windows and runs, FPS, latency (percentiles only from every run;
    the windows' mean where the tool printed only summaries) and the frames dropped at the rate."""

    minute: int
    windows: int
    runs: int
    fps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    dropped_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"minute": self.minute, "windows": self.windows, "runs": self.runs, "fps": self.fps,
                "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms, "mean_ms": self.mean_ms,
                "dropped_share": self.dropped_share}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SustainedMinute:
        return cls(minute=int(data["minute"]), windows=int(data.get("windows", 0)), runs=int(data["runs"]),
                   fps=data.get("fps"), p50_ms=data.get("p50_ms"), p90_ms=data.get("p90_ms"),
                   p99_ms=data.get("p99_ms"), mean_ms=data.get("mean_ms"), dropped_share=data.get("dropped_share"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SustainedResult:
    """A sustained job: the model run for `duration_s` (at `rate_hz`, or back to back), window by window,
    with the device's state sampled alongside, and what bench.results.sustained found in them."""

    duration_s: float
    rate_hz: float  # 0: back to back
    window_s: float
    windows: tuple[SustainedWindow, ...]
    samples: tuple[tuple[float, DeviceState], ...]  # (seconds since the first window, state)
    minutes: tuple[SustainedMinute, ...] = ()
    throttle_onset_s: float | None = None
    throttle_evidence: str = ""
    dropped_share: float | None = None  # of the frames offered at rate_hz
    dropped_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "rate_hz": self.rate_hz, "window_s": self.window_s,
                "windows": [w.to_dict() for w in self.windows],
                "samples": [{"t_s": t, "state": state.to_dict()} for t, state in self.samples],
                "minutes": [m.to_dict() for m in self.minutes], "throttle_onset_s": self.throttle_onset_s,
                "throttle_evidence": self.throttle_evidence, "dropped_share": self.dropped_share,
                "dropped_method": self.dropped_method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SustainedResult:
        return cls(duration_s=data["duration_s"], rate_hz=data["rate_hz"], window_s=data["window_s"],
                   windows=tuple(SustainedWindow.from_dict(w) for w in data["windows"]),
                   samples=tuple((s["t_s"], DeviceState.from_dict(s["state"])) for s in data["samples"]),
                   minutes=tuple(SustainedMinute.from_dict(m) for m in data.get("minutes") or ()),
                   throttle_onset_s=data.get("throttle_onset_s"),
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
    cooldown: CooldownWait | None = None
    sustained: SustainedResult | None = None
    concurrent: Contention | None = None
    frames: FramesResult | None = None
    failure: FailureKind | None = None  # a failed job: why (None: ok, or stored before kinds were kept)
    earlier_errors: tuple[str, ...] = ()  # what the tries a resume replaced failed with
    tool_output: str | None = None  # a failed job: what its tool printed before it failed or was killed
    # multiply-accumulates of one inference of the file at the input it was timed at (bench.models.macs);
    # None for a format bench cannot count (Core ML) and for results stored before it was counted
    macs: int | None = None

    @property
    def to_retry(self) -> bool:
        """Failed for a reason outside the model and the tool: `--resume` runs it again."""
        return self.status is JobStatus.FAILED and self.failure is not None and self.failure.retried_on_resume

    def to_dict(self) -> dict[str, Any]:
        return {"sustained": self.sustained.to_dict() if self.sustained else None,
                "failure": self.failure.value if self.failure else None, "earlier_errors": list(self.earlier_errors),
                "tool_output": self.tool_output, "macs": self.macs,
                "concurrent": self.concurrent.to_dict() if self.concurrent else None,
                "pipeline": self.frames.to_dict() if self.frames else None,  # the name results are stored under
                "job_id": self.job_id,
                "model": self.model, "variant": self.variant,
                "model_sha256": self.model_sha256, "accelerator": self.accelerator, "threads": self.threads,
                "status": self.status.value, "error": self.error, "raw": self.raw.to_dict() if self.raw else None,
                "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
                "warnings": list(self.warnings), "accuracy": self.accuracy.to_dict() if self.accuracy else None,
                "state_before": self.state_before.to_dict() if self.state_before else None,
                "state_after": self.state_after.to_dict() if self.state_after else None,
                "cooldown": self.cooldown.to_dict() if self.cooldown else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        def opt(key: str, kind: Any) -> Any:
            return kind.from_dict(data[key]) if data.get(key) else None

        return cls(job_id=data["job_id"], model=data["model"], variant=data["variant"],
                   model_sha256=data["model_sha256"], accelerator=data["accelerator"], threads=int(data["threads"]),
                   status=JobStatus(data["status"]), error=data.get("error"), raw=opt("raw", RawRun),
                   latency_ms=opt("latency_ms", LatencyStats), warnings=tuple(data.get("warnings") or ()),
                   accuracy=opt("accuracy", AccuracyResult), state_before=opt("state_before", DeviceState),
                   state_after=opt("state_after", DeviceState), cooldown=opt("cooldown", CooldownWait),
                   sustained=opt("sustained", SustainedResult), concurrent=opt("concurrent", Contention),
                   frames=FramesResult.from_dict(frames) if (frames := data.get("pipeline")) else None,
                   failure=FailureKind(data["failure"]) if data.get("failure") else None,
                   earlier_errors=tuple(data.get("earlier_errors") or ()), tool_output=data.get("tool_output"),
                   macs=int(data["macs"]) if data.get("macs") is not None else None)
