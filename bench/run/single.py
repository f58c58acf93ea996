"""One job alone, in four steps: the device's request, the tool's launch (with the state before and after),
the accuracy of what it predicted, and the judgement of its numbers (statistics and warnings)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from bench.datasets.tensor_cache import Preprocessed
from bench.devices.base import AccuracyInputs, Execution, ModelJob
from bench.errors import BenchError
from bench.models.macs import file_macs
from bench.models.manifest import VariantManifest
from bench.plan import Job
from bench.results.device_records import DeviceState
from bench.results.records import AccuracyResult, CooldownWait, JobResult, JobStatus, SustainedResult
from bench.results.stats import LatencyStats, summarize
from bench.run.accuracy import first_choices, host_reference, score, score_by_tool
from bench.run.builds import request_for
from bench.run.context import Measured, RunContext
from bench.run.sustained import measure_sustained
from bench.run.thermal import heat_warnings, pass_gate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What the device is asked to run, and the evaluation images prepared for it (None: timing only)."""

    model_job: ModelJob
    manifest: VariantManifest
    size: int | None  # the input size it is timed at, where the model's is free
    inputs: AccuracyInputs | None = None
    data: Preprocessed | None = None
    prepare_s: float = 0.0  # loading the preprocessed images


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """What the device did with a request, and its state around it."""

    execution: Execution
    before: DeviceState
    after: DeviceState
    waited: CooldownWait | None
    sustained: SustainedResult | None


def measure_alone(context: RunContext, job: Job, measured: Measured) -> JobResult:
    """Run one job (a sustained one without accuracy); raise BenchError when it cannot be measured."""
    request = make_request(context, job)
    launch = execute(context, request)
    accuracy = score_launch(context, job, request, launch, measured)
    stats, warnings = judge(context, job, launch)
    if launch.execution.accuracy_error:
        warnings.append(f"accuracy not measured: {launch.execution.accuracy_error}")
    return JobResult(
        job_id=job.job_id, model=job.model, variant=job.label,
        model_sha256=request.manifest.sha256, accelerator=job.accelerator, threads=job.threads, status=JobStatus.OK,
        raw=launch.execution.raw, latency_ms=stats, warnings=tuple(warnings), accuracy=accuracy,
        state_before=launch.before, state_after=launch.after, cooldown=launch.waited, sustained=launch.sustained,
        macs=file_macs(request.model_job.model_path, request.model_job.model_sha256, request.model_job.input_shape),
    )


def make_request(context: RunContext, job: Job) -> Request:
    """The device's request for the job's variant at its input size, with the evaluation images it scores."""
    built = context.builds.get((job.model, job.variant))
    model_job = request_for(job.job_id, built, job.accelerator, job.threads, context.settings)
    assert built is not None and built.manifest is not None  # request_for checked
    manifest = built.manifest
    # a model with a free input size is timed at the job's size, else at its preprocessing size
    free = -1 in manifest.inputs[0].shape[1:3]
    size = job.input_size or (manifest.preprocess.input_size if free else None)
    model_job = replace(model_job, input_shape=(1, size, size, 3) if size is not None else None)
    if context.images is None or context.sustained is not None:
        return Request(model_job=model_job, manifest=manifest, size=size)
    started = time.monotonic()
    spec = manifest.preprocess.at_resolution(size) if size is not None else manifest.preprocess
    inputs, data = context.images.inputs(spec)
    return Request(model_job=model_job, manifest=manifest, size=size, inputs=inputs, data=data,
                   prepare_s=time.monotonic() - started)


def execute(context: RunContext, request: Request) -> Launch:
    """Cool down, then launch the tool (window after window for a sustained job), reading the state around it."""
    device = context.device
    waited, before = pass_gate(device, context.gate)
    device.prepare(request.model_job)
    sustained = None
    if context.sustained is not None:  # one long job
        sustained, raw = measure_sustained(device, request.model_job, context.sustained)
        execution = Execution(raw=raw)
    else:
        execution = device.execute(request.model_job, request.inputs)
    return Launch(execution=execution, before=before, after=device.snapshot(), waited=waited, sustained=sustained)


def score_launch(context: RunContext, job: Job, request: Request, launch: Launch,
                 measured: Measured) -> AccuracyResult | None:
    """Top-1/top-5 of what the device predicted, or what a tool on it scored by itself (run_eval); fp32's
    first choices become what later variants' agreement is measured against."""
    data, execution = request.data, launch.execution
    if data is None or context.images is None or execution.accuracy_error:
        return None
    subset = context.images.subset
    if execution.top5 is None and execution.tool_accuracy:
        duration = request.prepare_s + float(execution.tool_accuracy.get("wall_s") or 0.0)
        return replace(score_by_tool(execution.tool_accuracy, data, subset), duration_s=duration)
    if execution.top5 is None:
        raise BenchError(f"{context.device.alias} returned no predictions for the accuracy images")
    key = (job.model, job.accelerator, job.threads)
    # the accuracy job's wall time: loading the preprocessed images plus feeding and scoring them all
    duration = request.prepare_s + (execution.classify_wall_s or 0.0)
    accuracy = replace(score(execution.top5, data, subset, measured.references.get(key)), duration_s=duration)
    if execution.tool_accuracy is not None:
        accuracy = replace(accuracy, scored_by=execution.tool_accuracy)
    if execution.scores is not None and request.inputs is not None:  # a phone: check its numbers against the host's
        accuracy = replace(accuracy, host_reference=host_reference(request.model_job.model_path, request.inputs,
                                                                   execution.scores, execution.top5[:, 0]))
    if job.variant == "fp32":
        measured.references[key] = first_choices(accuracy, data.names)
    return accuracy


def judge(context: RunContext, job: Job, launch: Launch) -> tuple[LatencyStats, list[str]]:
    """The latency statistics and every reason not to trust them as they are."""
    raw = launch.execution.raw
    stats, warnings = summarize(raw.latencies_ms, raw.summary)
    if launch.sustained is not None:  # its drift and its heat are what it measures, reported as such, not as noise
        warnings = []
    if context.settings.op_profiling and raw.op_profile is None:  # the timing stands; only the breakdown is missing
        log.warning("%s: op profiling was asked for, but %s printed no operator table", job.job_id, raw.engine)
    warnings += heat_warnings(launch.before, launch.after, launch.waited, heat_is_measured=launch.sustained is not None)
    return stats, warnings
