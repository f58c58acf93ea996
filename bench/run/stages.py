"""One `bench run` as its stages: open and preflight the device -> plan (or resume) -> build -> evaluation
images -> measure every unit (a job alone, jobs run together, a frames job) -> the outcome.

Each job is committed to the store in its own transaction as soon as it is measured: an interrupted
run keeps everything measured so far, and `--resume RUN_ID` runs only the jobs it lacks. A failing
job is recorded with its reason and the rest of the plan goes on.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench import __version__
from bench.config import Config, RunConfig, config_from_dict
from bench.devices.base import CapabilityProbe, Device, FixedPerformanceDevice, Reconnectable, RunSettings
from bench.devices.inventory import InventoryEntry
from bench.devices.select import open_device
from bench.errors import BenchError, DeviceError
from bench.plan import Job, default_threads, plan_jobs
from bench.progress import Bar
from bench.results.device_records import Capability, DeviceInfo, Platform
from bench.results.records import FailureKind, JobResult, JobStatus
from bench.results.store import RunRecord, Store
from bench.run.accuracy import EvalImages, eval_images
from bench.run.builds import BuildsByPlatform, RunBuilds, builds_slowly
from bench.run.concurrent import measure_together
from bench.run.context import Hooks, Measured, RunContext, RunOutcome
from bench.run.frames import build_jobs, measure_frames
from bench.run.single import measure_alone
from bench.run.sustained import sustained_plan
from bench.run.thermal import cooldown_gate

log = logging.getLogger(__name__)

OnJob = Callable[[JobResult, int, int], None]  # (result, measured so far, to measure in all)


def execute_run(
    config: Config, store: Store, cache_root: Path, *, device_alias: str = "local", resume: str | None = None,
    on_job: OnJob | None = None, hooks: Hooks | None = None, prebuilt: BuildsByPlatform | None = None,
    device: Device | None = None,
) -> RunOutcome:
    """Run (or resume) the plan on one device; every job's result is in the store when it returns.

    A lab hands over variants built beforehand for each platform (`prebuilt`, once for all its phones)
    and the phone it already opened and checked (`device`).
    """
    hooks = hooks or Hooks()
    record = store.run(resume) if resume else None
    if record is not None:  # the run goes on as it was planned, on the device it was planned for
        config = config_from_dict(record.config)
        device_alias = record.plan[0]["device"] if record.plan else device_alias
    device, info = open_and_preflight(config, device_alias, device)
    images = evaluation_images(config, cache_root)  # a folder that lacks them is refused before the run is stored
    run_id, jobs = resumed_plan(record) if record else new_plan(config, store, device_alias, info)
    if hooks.on_start:
        hooks.on_start(run_id)
    stored = store.job_results(run_id)  # read once: what later jobs compare with grows as the run goes
    done = {r.job_id for r in stored if not r.to_retry}  # a lost phone's jobs are run again, a crashed tool's not
    todo = [job for job in jobs if job.job_id not in done]
    retried = sum(1 for r in stored if r.to_retry)
    log.info("run %s on %s: %d jobs, %d to do%s", run_id, info.model, len(jobs), len(todo),
             f" ({retried} of them again: they failed for the phone or the link, not the tool)" if retried else "")
    context = RunContext(run_id=run_id, config=config, alias=device_alias, device=device, info=info, images=images,
                         builds=RunBuilds(config, cache_root, info.platform, (prebuilt or {}).get(info.platform)),
                         settings=run_settings(config.run), sustained=sustained_plan(config.run),
                         gate=cooldown_gate(config.run, info.platform))
    if context.sustained and images:
        log.warning("a sustained run measures no accuracy; run without --sustained for the accuracy columns")
    stopped, not_run = measure_all(context, todo, Measured.from_store(stored, images), store, hooks, on_job)
    if config.run.clean:  # every result is stored: what bench pushed for them can go
        device.cleanup()
        log.info("%s: removed what bench put on it", device_alias)
    return outcome(context, jobs, store, stopped, not_run)


def open_and_preflight(config: Config, alias: str, device: Device | None) -> tuple[Device, DeviceInfo]:
    """The device (the one handed over, else opened from `alias`), what it is, and a first snapshot: a phone
    that cannot run says so now, not after the builds."""
    device = device or open_configured(config, alias)
    info = device.describe()
    device.snapshot()
    if isinstance(device, CapabilityProbe):
        info = replace(info, capabilities=probe_capabilities(device, config, info))
        blocking = [c.line for c in info.capabilities if c.blocks_run]
        if blocking:
            raise DeviceError(f"{alias} cannot run: {blocking[0]}")
        for cap in info.capabilities:
            # run_eval only matters to a run that scores accuracy
            if not cap.ok and (cap.name != "run_eval" or config.dataset.imagenet):
                log.warning("%s: %s", alias, cap.line)
    return device, info


def probe_capabilities(device: CapabilityProbe, config: Config, info: DeviceInfo,
                       fresh: bool = False) -> tuple[Capability, ...]:
    """What the device offers bench, for the most threads the run will ask for (cached unless `fresh`)."""
    threads = max(config.run.threads) if config.run.threads else default_threads(info.default_threads_cores)
    return device.capabilities(threads, fresh=fresh)


def new_plan(config: Config, store: Store, alias: str, info: DeviceInfo) -> tuple[str, list[Job]]:
    """Plan the jobs for this device and store the run before its first job."""
    jobs = plan_jobs(config, alias, info.default_threads_cores, reserve_core=info.platform is Platform.LOCAL,
                     platform=info.platform)
    run_id = new_run_id(alias)
    store.create_run(run_id=run_id, device=info, plan=[j.to_dict() for j in jobs], config=config.to_dict(),
                     bench_version=__version__)
    return run_id, jobs


def resumed_plan(record: RunRecord) -> tuple[str, list[Job]]:
    return record.run_id, [Job.from_dict(j) for j in record.plan]


def new_run_id(device: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{device}-{secrets.token_hex(2)}"


def evaluation_images(config: Config, cache_root: Path) -> EvalImages | None:
    """The run's evaluation subset of ImageNet val, or None when the run measures no accuracy."""
    dataset = config.dataset
    return eval_images(dataset.imagenet, dataset.images, dataset.subset, cache_root) if dataset.imagenet else None


def run_settings(run: RunConfig) -> RunSettings:
    return RunSettings(loop=run.loop, watchdog_margin_s=run.watchdog_margin_s, op_profiling=run.op_profiling)


def measure_all(context: RunContext, todo: list[Job], measured: Measured, store: Store, hooks: Hooks,
                on_job: OnJob | None) -> tuple[str | None, tuple[str, ...]]:
    """Measure unit after unit, storing each result at once; (why the run stopped early, the jobs not run).

    Each unit's variants are built just before it; the units whose variants build slowly (pruning's
    fine-tune) go last, so the quick rows come first."""
    count = 0
    failed_in_a_row = 0
    units = quick_first(context, measuring_units(todo))
    with fixed_performance(context.device, context.config.run.fixed_performance), \
            Bar(total=len(todo), desc=f"measure on {context.alias}", unit="jobs") as bar:
        for index, unit in enumerate(units):
            to_build = context.builds.missing(build_jobs(context.config, unit))
            if to_build:
                bar.describe("building " + ", ".join(f"{j.model} {j.variant}" for j in to_build))
                context.builds.ensure(to_build)
            bar.describe(_progress_label(context, unit))
            results = measure_unit(context, unit, measured, hooks)
            lost = phone_lost(context.device, results)
            if lost:  # the rest cannot run: say so for each, and a resume runs them when the phone is back
                results += [failed(job, f"not run: {lost}", FailureKind.NOT_RUN) for later in units[index + 1:]
                            for job in later]
            for result in results:
                save(context.run_id, result, measured, store)
                count += 1
                bar.advance(1)
                if on_job:
                    on_job(result, count, len(todo))
            if lost:
                return f"phone lost: {lost}", ()
            failed_in_a_row = failed_in_a_row + 1 if results[-1].status is JobStatus.FAILED else 0
            if hooks.stop_after_failures and failed_in_a_row >= hooks.stop_after_failures:
                stopped = f"{failed_in_a_row} jobs in a row failed, the last with: {results[-1].error}"
                return stopped, tuple(j.job_id for later in units[index + 1:] for j in later)
    return None, ()


def save(run_id: str, result: JobResult, measured: Measured, store: Store) -> None:
    """Store the result; one that replaces a failure a resume runs again keeps that failure's error."""
    earlier = measured.results.get(result.job_id)
    retrying = earlier is not None and earlier.to_retry
    if earlier is not None and retrying:
        result = replace(result, earlier_errors=(*earlier.earlier_errors, earlier.error or ""))
    store.save_job(run_id, result, retrying=retrying)
    measured.results[result.job_id] = result


def phone_lost(device: Device, results: list[JobResult]) -> str | None:
    """After a transport failure, give a phone that dropped off one chance to come back (adb's own reconnect);
    why it did not, or None when it is there (or cannot drop off: the host)."""
    if not isinstance(device, Reconnectable) or not any(r.failure is FailureKind.TRANSPORT for r in results):
        return None
    try:
        device.wait_online()
    except DeviceError as exc:
        log.error("%s", exc)
        return str(exc)
    return None


def quick_first(context: RunContext, units: list[list[Job]]) -> list[list[Job]]:
    """The units in plan order, those waiting for a slow build (pruning) moved to the end."""
    def slow(unit: list[Job]) -> bool:
        return any(builds_slowly(job.variant) for job in context.builds.missing(build_jobs(context.config, unit)))

    return sorted(units, key=slow)  # stable: plan order within each group


def measure_unit(context: RunContext, unit: list[Job], measured: Measured, hooks: Hooks) -> list[JobResult]:
    """Measure one unit, trying again after a transport fault (a dropped link, a hang) as the hooks allow;
    a tool or a model that failed would fail again, so it is not tried again."""
    job = unit[0]
    for attempt in range(hooks.retries + 1):
        try:
            if job.frames is not None:
                return [measure_frames(context, job)]
            if job.together:
                return measure_together(context, unit, measured)
            return [measure_alone(context, job, measured)]
        except BenchError as exc:
            log.debug("%s failed: %s", job.job_id, exc)  # the result carries it: the row as it lands says it
            if not isinstance(exc, DeviceError) or attempt == hooks.retries:
                kind = FailureKind.TRANSPORT if isinstance(exc, DeviceError) else FailureKind.TOOL
                return [failed(j, str(exc), kind, output=exc.output) for j in unit]
            if hooks.on_retry:
                hooks.on_retry(job.job_id, attempt + 1, str(exc))
    raise AssertionError("unreachable: the last attempt returns")


def measuring_units(todo: list[Job]) -> list[list[Job]]:
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


def _progress_label(context: RunContext, unit: list[Job]) -> str:
    job = unit[0]
    accuracy = context.images and not job.together and not context.sustained
    return job.job_id + (" + accuracy" if accuracy else "") + (f" (+{len(unit) - 1} at once)" if len(unit) > 1 else "")


def failed(job: Job, error: str, kind: FailureKind, output: str | None = None) -> JobResult:
    return JobResult(job_id=job.job_id, model=job.model, variant=job.label, model_sha256="",
                     accelerator=job.accelerator, threads=job.threads, status=JobStatus.FAILED, error=error,
                     failure=kind, tool_output=output or None)


def outcome(context: RunContext, jobs: list[Job], store: Store, stopped: str | None,
            not_run: tuple[str, ...]) -> RunOutcome:
    """Every stored result of the run (those of earlier sessions of a resumed run too), in plan order."""
    order = {job.job_id: i for i, job in enumerate(jobs)}
    results = sorted(store.job_results(context.run_id), key=lambda r: order.get(r.job_id, len(order)))
    return RunOutcome(run_id=context.run_id, device=context.info, results=results,
                      accuracy_measured=context.images is not None, stopped=stopped, not_run=not_run)


@contextlib.contextmanager
def fixed_performance(device: Device, wanted: bool) -> Iterator[None]:
    """Turn the phone's fixed performance mode on for the run (when asked and the device has one), then off."""
    if not wanted or not isinstance(device, FixedPerformanceDevice):
        yield
        return
    device.set_fixed_performance(True)
    try:
        yield
    finally:
        device.set_fixed_performance(False)


def open_configured(config: Config, alias: str, inventory: dict[str, InventoryEntry] | None = None) -> Device:
    """The device `alias`, with the tools the config names for it (benchmark_model, run_eval, BenchRunner)."""
    def path(value: str | None) -> Path | None:
        return Path(value).expanduser() if value else None

    return open_device(alias, benchmark_model=path(config.run.benchmark_model), run_eval=path(config.run.run_eval),
                       runner_ipa=path(config.run.runner_ipa), inventory=inventory)


def check_device(config: Config, alias: str) -> tuple[DeviceInfo, tuple[Capability, ...] | None]:
    """`bench devices --check`: what the device is and, probed afresh, what it offers bench (None: a device
    that has no probe, as the host and iPhones)."""
    device = open_configured(config, alias)
    info = device.describe()
    if not isinstance(device, CapabilityProbe):
        return info, None
    return info, probe_capabilities(device, config, info, fresh=True)


def clean_device(config: Config, alias: str) -> DeviceInfo:
    """`bench devices clean ALIAS`: remove what bench put on the device (its own folder only); what it is."""
    device = open_configured(config, alias)
    info = device.describe()
    device.cleanup()
    return info
