"""Expand a config into jobs: model x variant x device x accelerator x threads, each with a stable id
(bench.results.job_ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.config import Config, RunConfig
from bench.errors import ConfigError
from bench.results import job_ids
from bench.results.device_records import COMPUTE_UNITS, TFLITE_ACCELERATORS, Accelerator, Platform

DEFAULT_MAX_THREADS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    job_id: str
    device: str
    model: str
    variant: str
    accelerator: str
    threads: int
    input_size: int | None = None  # the size a dynamic model is resized to; None = the model's own
    together: tuple[str, ...] = ()  # the variants it runs at the same time with (itself included), if any
    frames: str | None = None  # the [[run.pipelines]] it feeds frame by frame, by name (model: its first stage's)

    @property
    def solo_id(self) -> str:
        """The id of the same job run alone."""
        return job_ids.solo_id(self.job_id)

    @property
    def label(self) -> str:
        """The variant as tables show it: `int8`, `dynamic@160`, `int8 with fp32`."""
        return job_ids.variant_label(self.variant, self.input_size, self.together)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "device": self.device, "model": self.model, "variant": self.variant,
                "accelerator": self.accelerator, "threads": self.threads, "input_size": self.input_size,
                "together": list(self.together),
                "pipeline": self.frames}  # the name plans are stored under

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(job_id=data["job_id"], device=data["device"], model=data["model"], variant=data["variant"],
                   accelerator=data["accelerator"], threads=int(data["threads"]), input_size=data.get("input_size"),
                   together=tuple(data.get("together") or ()),
                   frames=data.get("pipeline"))


def default_threads(device_cores: int | None, reserve_core: bool = False) -> int:
    """min(4, cores); with `reserve_core`, one core is left to the OS and the harness.

    On the host, the harness and the OS share the cores being measured: on a 2-core machine two
    XNNPACK threads measured a coefficient of variation of 22-29%, one thread 3-7%.
    """
    cores = (device_cores or 1) - (1 if reserve_core else 0)
    return max(1, min(DEFAULT_MAX_THREADS, cores))


def model_label(model: str) -> str:
    """A model's name in ids: the zoo name, or a file's stem."""
    name = model.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def accelerators_for(config: Config, platform: Platform) -> tuple[str, ...]:
    """The accelerators to plan on a platform: Core ML compute units on iPhones, TFLite delegates elsewhere.

    Left at the default, an iPhone gets `all` (Core ML's own choice of CPU, GPU and Neural Engine).
    """
    asked = config.run.accelerators
    if platform is Platform.IOS:
        if asked == RunConfig().accelerators:
            return (Accelerator.ALL.value,)
        wrong = [a for a in asked if a not in COMPUTE_UNITS]
        allowed = COMPUTE_UNITS
    else:
        wrong = [a for a in asked if a not in TFLITE_ACCELERATORS]
        allowed = TFLITE_ACCELERATORS
    if wrong:
        raise ConfigError(f"{platform.value} devices take accelerators {', '.join(a.value for a in allowed)}, not "
                          f"{', '.join(wrong)}")
    return asked


def plan_jobs(config: Config, device: str, device_cores: int | None, reserve_core: bool = False,
              platform: Platform = Platform.LOCAL) -> list[Job]:
    """Return the jobs of one device, in a stable order. Core ML picks its own threads: one job per unit."""
    threads = config.run.threads or (default_threads(device_cores, reserve_core),)
    if platform is Platform.IOS:
        threads = (1,)
    jobs: list[Job] = []
    for model in config.run.models:
        for variant in config.run.variants:
            sizes: tuple[int | None, ...] = config.run.dynamic_sizes if variant == "dynamic" else (None,)
            for size in sizes:
                for accelerator in accelerators_for(config, platform):
                    for count in threads:
                        jobs.append(Job(
                            job_id=job_ids.job_id(device, model_label(model), variant, accelerator, count, size),
                            device=device, model=model, variant=variant, accelerator=accelerator, threads=count,
                            input_size=size,
                        ))
    together = config.run.concurrent  # after every job alone: its solo numbers are what it is compared with
    for model in config.run.models if together else ():
        for accelerator in accelerators_for(config, platform):
            for count in threads:
                for variant in together:
                    jobs.append(Job(job_id=job_ids.job_id(device, model_label(model), variant, accelerator, count,
                                                          together=together),
                                    device=device, model=model, variant=variant, accelerator=accelerator,
                                    threads=count, together=together))
    for pipeline in config.run.pipelines:
        first = pipeline["stages"][0].get("model") or config.run.models[0]
        for accelerator in accelerators_for(config, platform):
            for count in threads:
                jobs.append(Job(job_id=job_ids.frames_job_id(device, pipeline["name"], accelerator, count),
                                device=device, model=first, variant="pipeline", accelerator=accelerator, threads=count,
                                frames=pipeline["name"]))
    ids = [job.job_id for job in jobs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"the plan repeats jobs {duplicates}; two models share a name? rename one file")
    return jobs
