"""The Protocol every device backend implements, and the requests the pipeline hands it.

A backend imports only result records and engines: it receives files and numbers, never datasets,
stores or reports, and no adbutils / pymobiledevice3 / coremltools type leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench.results.records import DeviceInfo, DeviceState, RawRun


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """benchmark_model's loop settings (their defaults live in `bench.config.RunConfig`)."""

    num_runs: int
    min_secs: float
    max_secs: float
    warmup_runs: int
    warmup_min_secs: float
    # the watchdog allows 2 x max_secs of runs plus this for loading, delegate compilation and output
    watchdog_margin_s: float = 60.0
    op_profiling: bool = False  # ask the tool for per-operator times
    # benchmark_model's --run_frequency: runs per second on a fixed schedule (catching up when late); 0: back to back
    run_frequency_hz: float = 0.0


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
class Execution:
    """What one launch of the tool gave: the timing, and the images' top classes when asked for."""

    raw: RawRun
    top5: np.ndarray | None = None  # (N, 5) class indices, best first
    classify_wall_s: float | None = None  # feeding, invoking and reading every image
    scores: np.ndarray | None = None  # (N, classes) dequantised outputs, when the device hands them back
    # accuracy a tool scored by itself (run_eval): top-k fractions, its image count, how it preprocessed;
    # with top5 given, why the device scored the images another way than asked
    tool_accuracy: dict[str, Any] | None = None
    # a pipeline of models (bench.run.pipelines): each stage's graph, every, init_ms and latencies_ms
    stages: list[dict[str, Any]] | None = None


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
