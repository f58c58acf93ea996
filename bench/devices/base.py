"""The Protocol every device backend implements, the small Protocols of what only some devices can do,
and the requests a run hands them.

A backend imports only result records and engines: it receives files and numbers, never datasets,
stores or reports, and no adbutils / pymobiledevice3 / coremltools type leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench.engines.loop import LoopSettings
from bench.results.device_records import Capability, DeviceInfo, DeviceState
from bench.results.records import RawRun


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """How a device runs a job's tool: its loop, the watchdog's margin, per-operator profiling."""

    loop: LoopSettings = field(default_factory=LoopSettings)
    watchdog_margin_s: float = 60.0  # beyond 2 x max_secs, for loading, delegate compilation and output
    op_profiling: bool = False  # ask the tool for per-operator times

    @property
    def watchdog_s(self) -> float:
        return self.loop.watchdog_s(self.watchdog_margin_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelJob:
    """One model file to time (and score) with one accelerator and thread count."""

    job_id: str
    model_path: Path
    model_sha256: str
    accelerator: str
    threads: int
    input_shape: tuple[int, ...] | None  # resize a dynamic input to this; None = the model's own
    input_name: str  # the model's input tensor (tools take shapes and input files by name)
    settings: RunSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyInputs:
    """Preprocessed images as a uint8 (N, H, W, 3) .npy file, and how the model wants them scaled."""

    pixels_npy: Path
    mean: tuple[float, float, float] | None  # None: the model normalises in its graph
    std: tuple[float, float, float] | None
    label_offset: int  # 1 for 1001-class models with a background class
    # the same images as files, with their class indices, for tools that decode images themselves (run_eval)
    image_files: tuple[Path, ...] = ()
    labels: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StageRun:
    """One model of a frames job, as the runner measured it on the frames it ran on."""

    init_ms: float | None
    latencies_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """What one launch of the tool gave: the timing, and the images' top classes when asked for."""

    raw: RawRun
    top5: np.ndarray | None = None  # (N, 5) class indices, best first
    classify_wall_s: float | None = None  # feeding, invoking and reading every image
    scores: np.ndarray | None = None  # (N, classes) dequantised outputs, when the device hands them back
    # accuracy a tool scored by itself (run_eval): top-k fractions, its image count, how it preprocessed;
    # with top5 given, why the device scored the images another way than asked
    tool_accuracy: dict[str, Any] | None = None
    # models fed frame by frame (bench.run.frames): what each stage measured, in stage order
    stages: tuple[StageRun, ...] | None = None
    # the timing was measured but the images could not be scored: why (the result keeps the timing)
    accuracy_error: str | None = None


class Device(Protocol):
    alias: str

    def describe(self) -> DeviceInfo:
        """Return what the device is: id, platform, model, SoC/CPU, OS, ABI, cores."""

    def snapshot(self) -> DeviceState:
        """Return its state now: temperatures, governor, clocks, load, battery."""

    def prepare(self, job: ModelJob) -> None:
        """Make the job's model (and tool) available on the device."""

    def execute(self, job: ModelJob, accuracy: AccuracyInputs | None = None) -> Execution:
        """Time the model; with `accuracy`, then run the same model with the same settings on every image.

        Raise DeviceError / ToolFailedError with the reason when it fails.
        """

    def cleanup(self) -> None:
        """Remove what prepare left on the device."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthFacts:
    free_bytes: int | None  # where bench writes on the device
    other_benchmark: str | None  # a benchmark tool already running ("pid 1234"), else None


@runtime_checkable
class FramesDevice(Protocol):
    """A device that holds several models in one process and feeds them frame by frame (the host)."""

    def execute_frames(self, stages: list[tuple[ModelJob, int]], frames: int, rate_hz: float) -> Execution:
        """Feed `frames` frames through the stages' models, stage k on every `every`-th frame."""


@runtime_checkable
class FixedPerformanceDevice(Protocol):
    """A device with a mode of steady clocks for benchmarking (Android's fixed performance mode)."""

    def set_fixed_performance(self, on: bool) -> bool:
        """Turn the mode on or off; False when the device refused (it says so in its state, it does not raise)."""


@runtime_checkable
class Reconnectable(Protocol):
    """A device that can drop off its link (USB, Wi-Fi) and come back by itself."""

    def wait_online(self) -> None:
        """Return once the device answers again; DeviceNotReadyError when it did not come back in its time."""


@runtime_checkable
class CapabilityProbe(Protocol):
    """A device that can say what it offers bench (tools, pinning, thermal sources) and what it lacks."""

    def capabilities(self, threads: int | None, fresh: bool = False) -> tuple[Capability, ...]:
        """Each thing bench relies on, found or missing (with what bench does instead); cached unless `fresh`."""


@runtime_checkable
class HealthProbe(Protocol):
    """A device that reports what a lab checks before a night (free storage, another tool running)."""

    def health_facts(self) -> HealthFacts:
        """What snapshot() does not say: free storage, a benchmark tool already running."""
