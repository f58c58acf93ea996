"""Frames jobs: models fed one after another, frame by frame, declared in bench.toml:

    [[run.pipelines]]
    name = "int8-then-fp32"
    stages = [{ variant = "int8" }, { variant = "fp32", every = 5 }]   # model: the run's first by default
    frames = 300
    rate_hz = 30        # optional: frames offered at this rate (dropped frames are counted against it)

One runner process holds every stage's model; frame i goes through each stage whose `every`
divides i, back to back, so a frame's latency is the end-to-end time of what ran on it. Reported:
per-frame latency percentiles (the job's latency), frames per second, each stage's own latency
and how often it ran, and with a rate the frames a latest-frame camera pipeline would drop. The
host runs them; benchmark_model on a phone holds one model per launch, so a phone cannot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.config import Config
from bench.devices.base import FramesDevice, ModelJob, StageRun
from bench.errors import BenchError
from bench.plan import Job
from bench.results.records import FramesResult, FrameStage, JobResult, JobStatus
from bench.results.stats import summarize
from bench.results.sustained import replay_latest_frame
from bench.run.builds import request_for
from bench.run.context import RunContext

DEFAULT_FRAMES = 300


def frames_spec(config: Config, name: str) -> dict[str, Any]:
    return next(p for p in config.run.pipelines if p["name"] == name)


def stages(config: Config, name: str) -> list[tuple[str, str, int]]:
    """(model, variant, every) of each stage."""
    return [(s.get("model") or config.run.models[0], s["variant"], int(s.get("every", 1)))
            for s in frames_spec(config, name)["stages"]]


def build_jobs(config: Config, jobs: list[Job]) -> list[Job]:
    """What the builds need: the ordinary jobs, and in place of each frames job its stages' variants."""
    out = [job for job in jobs if job.frames is None]
    for job in jobs:
        if job.frames is not None:
            out += [Job(job_id=f"{job.job_id}/{variant}", device=job.device, model=model, variant=variant,
                        accelerator=job.accelerator, threads=job.threads)
                    for model, variant, _ in stages(config, job.frames)]
    return out


def measure_frames(context: RunContext, job: Job) -> JobResult:
    """Feed the frames through the job's stages on the run's device; raise BenchError when it cannot."""
    assert job.frames is not None
    device, config = context.device, context.config
    if not isinstance(device, FramesDevice):
        raise BenchError(f"pipeline {job.frames}: {device.alias} runs one model per launch of its tool "
                         "(benchmark_model holds one graph); run pipelines with --device local")
    spec = frames_spec(config, job.frames)
    planned = stages(config, job.frames)
    stage_jobs = [(request_for(f"{job.job_id}/{variant}", context.builds.get((model, variant)), job.accelerator,
                               job.threads, context.settings, what=f"pipeline {job.frames}: {model} {variant}"), every)
                  for model, variant, every in planned]
    rate = float(spec.get("rate_hz", 0.0))
    before = device.snapshot()
    execution = device.execute_frames(stage_jobs, int(spec.get("frames", DEFAULT_FRAMES)), rate)
    after = device.snapshot()
    raw = execution.raw
    stats, _ = summarize(raw.latencies_ms, raw.summary)  # frames differ by design: spread is not noise here
    facts = frames_facts(planned, stage_jobs, execution.stages or (), raw.latencies_ms, raw.timed_s, rate)
    combined = hashlib.sha256("".join(j.model_sha256 for j, _ in stage_jobs).encode()).hexdigest()
    return JobResult(job_id=job.job_id, model=f"pipeline:{job.frames}", variant="pipeline", model_sha256=combined,
                     accelerator=job.accelerator, threads=job.threads, status=JobStatus.OK, raw=raw,
                     latency_ms=stats, state_before=before, state_after=after, frames=facts)


def frames_facts(planned: list[tuple[str, str, int]], stage_jobs: list[tuple[ModelJob, int]],
                 measured: Sequence[StageRun], frames_ms: tuple[float, ...], timed_s: float | None,
                 rate_hz: float) -> FramesResult:
    """Each stage's own numbers, the frames per second, and the frames dropped at the rate."""
    out_stages = []
    for (model, variant, every), (job, _), got in zip(planned, stage_jobs, measured, strict=True):
        runs = got.latencies_ms
        out_stages.append(FrameStage(model=model, variant=variant, every=every, model_sha256=job.model_sha256,
                                     runs=len(runs), init_ms=got.init_ms,
                                     p50_ms=float(np.median(runs)) if runs else None,
                                     mean_ms=float(np.mean(runs)) if runs else None))
    dropped = None
    if rate_hz > 0 and frames_ms:
        processed, offered = replay_latest_frame(frames_ms, rate_hz)
        dropped = 1.0 - processed / offered
    return FramesResult(stages=tuple(out_stages), frames=len(frames_ms), rate_hz=rate_hz or None,
                        fps=len(frames_ms) / timed_s if timed_s else None, dropped_share=dropped)
