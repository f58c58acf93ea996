"""What one run shares across its jobs, worked out once before the first job, and what it has measured so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.config import Config
from bench.devices.base import Device, RunSettings
from bench.results.device_records import DeviceInfo
from bench.results.records import JobResult, JobStatus
from bench.run.accuracy import EvalImages, first_choices
from bench.run.builds import RunBuilds
from bench.run.sustained import SustainedPlan
from bench.run.thermal import CooldownGate

# FP32 first choices per image, by (model, accelerator, threads): what agreement is measured against.
References = dict[tuple[str, str, int], dict[str, int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """The run's settings, its device, its built variants and evaluation images, handed to every job."""

    run_id: str
    config: Config
    alias: str  # the device as the plan names it
    device: Device
    info: DeviceInfo
    builds: RunBuilds  # built as the jobs come to need them
    images: EvalImages | None  # None: no accuracy in this run
    settings: RunSettings
    sustained: SustainedPlan | None  # each job one long job, without accuracy
    gate: CooldownGate | None  # the cool-down before each job


@dataclass(slots=True)
class Measured:
    """The run's results so far (those stored before a resume, then each one as it is measured): a job run
    together is compared with its job alone, a variant's predictions with fp32's."""

    results: dict[str, JobResult] = field(default_factory=dict)
    references: References = field(default_factory=dict)

    @classmethod
    def from_store(cls, stored: list[JobResult], images: EvalImages | None) -> Measured:
        measured = cls(results={r.job_id: r for r in stored})
        if images is not None:  # a resumed run compares against the fp32 predictions it already has
            names = tuple(image.name for image in images.subset.images)
            for result in stored:
                if result.variant == "fp32" and result.accuracy and len(result.accuracy.predictions_top5) == len(names):
                    measured.references[(result.model, result.accelerator, result.threads)] = \
                        first_choices(result.accuracy, names)
        return measured

    def alone(self, job_id: str) -> JobResult | None:
        """The job's measured result, if it was measured and did not fail."""
        result = self.results.get(job_id)
        return result if result is not None and result.status is JobStatus.OK else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hooks:
    """What a lab night adds to a run: another try after a transport fault, a stop after repeated failures."""

    retries: int = 0  # per job, for DeviceError (a dropped link, a hang), never for a tool that failed
    on_retry: Callable[[str, int, str], None] | None = None  # (job id, attempt, reason)
    stop_after_failures: int | None = None  # this many failed jobs in a row: the rest are not run
    on_start: Callable[[str], None] | None = None  # (run id) once the run is in the store, before its first job


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    run_id: str
    device: DeviceInfo
    results: list[JobResult]
    accuracy_measured: bool
    stopped: str | None = None  # why the run stopped early (Hooks.stop_after_failures)
    not_run: tuple[str, ...] = ()

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status is JobStatus.FAILED]

    @property
    def unstable(self) -> list[JobResult]:
        return [r for r in self.results if r.status is JobStatus.OK and r.warnings]
