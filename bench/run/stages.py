"""One `bench run`: build what the plan needs, then measure each job and commit it at once.

Each job is committed to the store in its own transaction as soon as it is measured: an interrupted
run keeps everything measured so far, and `--resume RUN_ID` runs only the jobs it lacks. A failing
job is recorded with its reason and the rest of the plan goes on.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import __version__
from bench.config import Config, config_from_dict
from bench.devices.base import Device, Execution, RunSettings
from bench.devices.inventory import InventoryEntry
from bench.devices.select import open_device
from bench.errors import BenchError, DeviceError
from bench.models.build import BuildOutcome, BuildSettings, build_variants
from bench.models.pruning import PruningSettings
from bench.models.variants import parse_variant
from bench.models.zoo import resolve_source
from bench.plan import Job, plan_jobs
from bench.progress import Bar
from bench.results.records import DeviceInfo, DeviceState, JobResult, JobStatus, Platform
from bench.results.stats import summarize
from bench.results.store import Store
from bench.run.accuracy import EvalImages, eval_images, first_choices, host_reference, score, score_by_tool
from bench.run.concurrent import contention_facts, run_together
from bench.run.frames import build_jobs, measure_pipeline
from bench.run.model_jobs import model_job
from bench.run.sustained import SustainedPlan, measure_sustained, sustained_plan
from bench.run.thermal import wait_until_cool

log = logging.getLogger(__name__)

# FP32 first choices per image, by (model, accelerator, threads): what agreement is measured against.
References = dict[tuple[str, str, int], dict[str, int]]


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


def new_run_id(device: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{device}-{secrets.token_hex(2)}"


def build_for(config: Config, jobs: list[Job], cache_root: Path,
           platform: Platform = Platform.LOCAL) -> dict[tuple[str, str], BuildOutcome]:
    """Build each model's variants: TFLite files, or on an iPhone Core ML packages converted from them."""
    settings = BuildSettings(
        cache_root=cache_root, imagenet=config.dataset.imagenet,
        int8_calibration_images=config.build.calibration_images,
        pruning_calibration_images=config.build.prune_images,
        pruning=PruningSettings(budget_s=config.build.prune_budget_s),
    )
    built: dict[tuple[str, str], BuildOutcome] = {}
    for model in dict.fromkeys(job.model for job in jobs):
        try:
            source = resolve_source(model)
            names = list(dict.fromkeys(job.variant for job in jobs if job.model == model))
            specs = [parse_variant(name, source.preprocess.input_size) for name in names]
        except BenchError as exc:
            for job in jobs:
                if job.model == model:
                    built[(model, job.variant)] = BuildOutcome(model=model, variant=job.variant, path=None,
                                                               manifest=None, cache_hit=False, duration_s=0.0,
                                                               error=str(exc))
            continue
        if platform is Platform.IOS:
            from bench.models.coreml_build import build_coreml_variants

            outcomes = build_coreml_variants(source, names, settings)
        else:
            outcomes = build_variants(source, specs, settings)
        for outcome in outcomes:
            built[(model, outcome.variant)] = outcome
    return built


def _measure(job: Job, device: Device, built: BuildOutcome, settings: RunSettings, images: EvalImages | None,
             references: References, gate: tuple[float, float] | None = None,
             plan: SustainedPlan | None = None) -> JobResult:
    """Run one job (a sustained one with `plan`, without accuracy); raise BenchError when it cannot be measured."""
    request = model_job(job.job_id, built, job.accelerator, job.threads, settings)
    manifest = built.manifest
    assert manifest is not None and built.path is not None  # model_job checked
    # A model with a free input size is timed at the job's size, else at its preprocessing size.
    free = -1 in manifest.inputs[0].shape[1:3]
    size = job.input_size or (manifest.preprocess.input_size if free else None)
    request = replace(request, input_shape=(1, size, size, 3) if size is not None else None)
    inputs, data, prepare_s = None, None, 0.0
    if images is not None:
        started = time.monotonic()
        spec = manifest.preprocess.at_resolution(size) if size is not None else manifest.preprocess
        inputs, data = images.inputs(spec)
        prepare_s = time.monotonic() - started
    cooldown = None
    if gate is not None:
        cooled = wait_until_cool(device, gate[0], gate[1])
        cooldown = {"below_c": gate[0], "waited_s": round(cooled.waited_s, 1), "start_temp_c": cooled.start_temp_c,
                    "end_temp_c": cooled.end_temp_c, "reached": cooled.reached}
    before = device.snapshot()
    device.prepare(request)
    sustained = None
    if plan is not None:  # one long job
        sustained, raw = measure_sustained(device, request, plan)
        execution = Execution(raw=raw)
    else:
        execution = device.execute(request, inputs)
    raw = execution.raw
    accuracy = None
    if images is not None and data is not None and execution.top5 is None and execution.tool_accuracy:
        duration = prepare_s + float(execution.tool_accuracy.get("wall_s") or 0.0)
        accuracy = replace(score_by_tool(execution.tool_accuracy, data, images.subset), duration_s=duration)
    elif images is not None and data is not None:
        if execution.top5 is None:
            raise BenchError(f"{device.alias} returned no predictions for the accuracy images")
        key = (job.model, job.accelerator, job.threads)
        # the accuracy job's wall time: loading the preprocessed images plus feeding and scoring them all
        duration = prepare_s + (execution.classify_wall_s or 0.0)
        accuracy = replace(score(execution.top5, data, images.subset, references.get(key)), duration_s=duration)
        if execution.tool_accuracy is not None:
            accuracy = replace(accuracy, scored_by=execution.tool_accuracy)
        if execution.scores is not None and inputs is not None:  # a phone: check its numbers against the host's
            accuracy = replace(accuracy, host_reference=host_reference(built.path, inputs, execution.scores,
                                                                       execution.top5[:, 0]))
        if job.variant == "fp32":
            references[key] = first_choices(accuracy, data.names)
    after = device.snapshot()
    stats, warnings = summarize(raw.latencies_ms, raw.summary_ms)
    if sustained is not None:  # its drift and its heat are what it measures, reported as such, not as noise
        warnings = []
    if settings.op_profiling and raw.op_profile is None:  # the timing stands; only the breakdown is missing
        log.warning("%s: op profiling was asked for, but %s printed no operator table", job.job_id, raw.engine)
    heated = _heating_c(before, after)
    if heated is not None and heated > HEATING_LIMIT_C and sustained is None:
        warnings.append(f"the device heated by {heated:.1f} °C during the job: it may have throttled; "
                        "add a cool-down (--cooldown-below-c) or fewer runs per job")
    if after.thermal_status in THROTTLED_STATUS:
        warnings.append(f"the device's thermal status was {after.thermal_status} after the job: it was throttling; "
                        "let it cool (out of its case, off the charger), then resume with --resume")
    if cooldown is not None and not cooldown["reached"]:
        warnings.append(f"the device was still at {cooldown['end_temp_c']:.1f} °C after waiting "
                        f"{cooldown['waited_s']:.0f} s to cool below {cooldown['below_c']:.0f} °C: it may have been "
                        "throttled; let it rest, or raise --cooldown-timeout-s")
    return JobResult(
        job_id=job.job_id, model=job.model, variant=job.variant if job.input_size is None else f"{job.variant}@{size}",
        model_sha256=manifest.sha256, accelerator=job.accelerator, threads=job.threads, status=JobStatus.OK,
        raw=raw, latency_ms=stats, warnings=tuple(warnings),
        accuracy=accuracy, state_before=before, state_after=after, cooldown=cooldown, sustained=sustained,
    )


def execute_run(
    config: Config, store: Store, cache_root: Path, *, device_alias: str = "local", resume: str | None = None,
    on_job: Callable[[JobResult, int, int], None] | None = None, hooks: Hooks | None = None,
    prebuilt: dict[Platform, dict[tuple[str, str], BuildOutcome]] | None = None, device: Device | None = None,
) -> RunOutcome:
    """Run (or resume) the plan on one device; every job's result is in the store when it returns.

    A lab hands over variants built beforehand for each platform (`prebuilt`, once for all its phones)
    and the phone it already opened and checked (`device`).
    """
    hooks = hooks or Hooks()
    if resume:
        record = store.run(resume)
        run_id, config = record.run_id, config_from_dict(record.config)
        device = device or open_configured(config, record.plan[0]["device"] if record.plan else device_alias)
        info = device.describe()
        device.snapshot()  # preflight: a phone that cannot run says so now, not after the builds
        jobs = [Job.from_dict(j) for j in record.plan]
    else:
        device = device or open_configured(config, device_alias)
        info = device.describe()
        device.snapshot()  # preflight: a phone that cannot run says so now, not after the builds
        jobs = plan_jobs(config, device_alias, info.cores, reserve_core=info.platform is Platform.LOCAL,
                         platform=info.platform)
        run_id = new_run_id(device_alias)
        store.create_run(run_id=run_id, device=info, plan=[j.to_dict() for j in jobs], config=config.to_dict(),
                         bench_version=__version__)
    if hooks.on_start:
        hooks.on_start(run_id)
    done = store.done_job_ids(run_id)
    todo = [job for job in jobs if job.job_id not in done]
    log.info("run %s on %s: %d jobs, %d to do", run_id, info.model, len(jobs), len(todo))
    needed = build_jobs(config, todo)
    built = (prebuilt or {}).get(info.platform)
    if built is None or any((job.model, job.variant) not in built for job in needed):
        built = build_for(config, needed, cache_root, info.platform) if needed else {}
    images = (eval_images(config.dataset.imagenet, config.dataset.images, config.dataset.subset, cache_root)
              if config.dataset.imagenet else None)
    references = _stored_references(store.job_results(run_id), images) if images else {}
    settings = RunSettings(num_runs=config.run.num_runs, min_secs=config.run.min_secs, max_secs=config.run.max_secs,
                           watchdog_margin_s=config.run.watchdog_margin_s, op_profiling=config.run.op_profiling,
                           warmup_runs=config.run.warmup_runs, warmup_min_secs=config.run.warmup_min_secs)
    plan = sustained_plan(config.run)
    if plan and images:
        log.warning("a sustained run measures no accuracy; run without --sustained for the accuracy columns")
    stopped: str | None = None
    not_run: tuple[str, ...] = ()
    failed_in_a_row = 0
    measured = 0
    units = _units(todo)
    with _fixed_performance(device, config.run.fixed_performance), \
            Bar(total=len(todo), desc=f"measure on {device_alias}", unit="jobs") as bar:
        for index, unit in enumerate(units):
            job = unit[0]
            bar.describe(job.job_id + (" + accuracy" if images and not job.together and not plan else "") +
                         (f" (+{len(unit) - 1} at once)" if len(unit) > 1 else ""))
            for attempt in range(hooks.retries + 1):
                try:
                    if job.pipeline is not None:
                        unit_results = [measure_pipeline(job, device, built, settings, config)]
                    elif job.together:
                        unit_results = _measure_together(unit, device, info.platform, built, settings, config,
                                                         store.job_results(run_id), _cooldown_gate(config, info))
                    else:
                        unit_results = [_measure(job, device, built[(job.model, job.variant)], settings,
                                                 None if plan else images, references, _cooldown_gate(config, info),
                                                 plan)]
                    break
                except BenchError as exc:
                    log.error("%s failed: %s", job.job_id, exc)
                    unit_results = [_failed(j, str(exc)) for j in unit]
                    if not isinstance(exc, DeviceError) or attempt == hooks.retries:
                        break  # a tool or a model that failed would fail again
                    if hooks.on_retry:
                        hooks.on_retry(job.job_id, attempt + 1, str(exc))
            for result in unit_results:
                store.save_job(run_id, result)
                measured += 1
                bar.advance(1)
                if on_job:
                    on_job(result, measured, len(todo))
            failed_in_a_row = failed_in_a_row + 1 if unit_results[-1].status is JobStatus.FAILED else 0
            if hooks.stop_after_failures and failed_in_a_row >= hooks.stop_after_failures:
                stopped = f"{failed_in_a_row} jobs in a row failed, the last with: {unit_results[-1].error}"
                not_run = tuple(j.job_id for later in units[index + 1:] for j in later)
                break
    order = {job.job_id: i for i, job in enumerate(jobs)}
    results = sorted(store.job_results(run_id), key=lambda r: order.get(r.job_id, len(order)))
    return RunOutcome(run_id=run_id, device=info, results=results, accuracy_measured=images is not None,
                      stopped=stopped, not_run=not_run)


def _units(todo: list[Job]) -> list[list[Job]]:
    """What is measured in one go: a job alone, or the jobs of a group that run at the same time."""
    units: list[list[Job]] = []
    for job in todo:
        last = units[-1][0] if units else None
        if job.together and last is not None and last.together == job.together and \
                (last.model, last.accelerator, last.threads) == (job.model, job.accelerator, job.threads):
            units[-1].append(job)
        else:
            units.append([job])
    return units


def _failed(job: Job, error: str) -> JobResult:
    return JobResult(job_id=job.job_id, model=job.model, variant=_variant_label(job), model_sha256="",
                     accelerator=job.accelerator, threads=job.threads, status=JobStatus.FAILED, error=error)


def _variant_label(job: Job) -> str:
    """The variant as tables show it: `int8`, `dynamic@160`, or `int8 with fp32` for a job run together."""
    if job.together:
        return f"{job.variant} with {'+'.join(v for v in job.together if v != job.variant)}"
    return job.variant if job.input_size is None else f"{job.variant}@{job.input_size}"


def _measure_together(unit: list[Job], device: Device, platform: Platform,
                      built: dict[tuple[str, str], BuildOutcome], settings: RunSettings, config: Config,
                      stored: list[JobResult], gate: tuple[float, float] | None) -> list[JobResult]:
    """Run a group's jobs at the same time; each one's result says what the others did to it."""
    if platform is Platform.IOS:
        raise BenchError("an iPhone runs one BenchRunner at a time: models at the same time are measured on the "
                         "host and on Android phones")
    model_jobs = [model_job(job.job_id, built.get((job.model, job.variant)), job.accelerator, job.threads, settings,
                            what=f"variant {job.variant}") for job in unit]
    if gate is not None:
        wait_until_cool(device, gate[0], gate[1])
    before = device.snapshot()
    for request in model_jobs:
        device.prepare(request)
    group = run_together(device, model_jobs, config.run.concurrent_s)
    after = device.snapshot()
    alone = {r.job_id: r for r in stored if r.status is JobStatus.OK}
    variants = unit[0].together
    results = []
    for job, request, mine in zip(unit, model_jobs, group, strict=True):
        stats, _ = summarize(mine.raw.latencies_ms, mine.raw.summary_ms)  # contention is what it measures
        facts = contention_facts(job.variant, mine, group, variants, alone.get(job.solo_id))
        results.append(JobResult(job_id=job.job_id, model=job.model, variant=_variant_label(job),
                                 model_sha256=request.model_sha256, accelerator=job.accelerator,
                                 threads=job.threads, status=JobStatus.OK, raw=mine.raw, latency_ms=stats,
                                 state_before=before, state_after=after, concurrent=facts))
    return results


@contextlib.contextmanager
def _fixed_performance(device: Device, wanted: bool) -> Iterator[None]:
    """Turn the phone's fixed performance mode on for the run (when asked and the backend has it), then off."""
    setter = getattr(device, "set_fixed_performance", None)
    if not wanted or setter is None:
        yield
        return
    setter(True)
    try:
        yield
    finally:
        setter(False)


PHONE_COOLDOWN_BELOW_C = 45.0
# thermal statuses at which the OS slows the device: Android's thermal service, iOS's ProcessInfo.thermalState
THROTTLED_STATUS = ("severe", "critical", "emergency", "shutdown", "serious")
HEATING_LIMIT_C = 5.0


def _heating_c(before: DeviceState, after: DeviceState) -> float | None:
    start, end = before.hottest_c, after.hottest_c
    return end - start if start is not None and end is not None else None


def _cooldown_gate(config: Config, info: DeviceInfo) -> tuple[float, float] | None:
    """(threshold °C, timeout s) before each job; phones by default, the host only when asked."""
    below = config.run.cooldown_below_c
    if below is None:
        below = None if info.platform is Platform.LOCAL else PHONE_COOLDOWN_BELOW_C
    return (below, config.run.cooldown_timeout_s) if below else None


def open_configured(config: Config, alias: str,
                    inventory: dict[str, InventoryEntry] | None = None) -> Device:
    """The device `alias`, with the tools the config names for it (benchmark_model, run_eval, BenchRunner)."""
    def path(value: str | None) -> Path | None:
        return Path(value).expanduser() if value else None

    return open_device(alias, benchmark_model=path(config.run.benchmark_model), run_eval=path(config.run.run_eval),
                       runner_ipa=path(config.run.runner_ipa), inventory=inventory)


def _stored_references(results: list[JobResult], images: EvalImages | None) -> References:
    """FP32 first choices already measured in this run (a resumed run compares against them)."""
    references: References = {}
    if images is None:
        return references
    names = tuple(image.name for image in images.subset.images)
    for result in results:
        if result.variant == "fp32" and result.accuracy and len(result.accuracy.predictions_top5) == len(names):
            references[(result.model, result.accelerator, result.threads)] = first_choices(result.accuracy, names)
    return references
