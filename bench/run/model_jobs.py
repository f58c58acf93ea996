"""The request a device gets for one built variant: every way of measuring (alone, together, in a pipeline)
starts from here."""

from __future__ import annotations

from bench.devices.base import ModelJob, RunSettings
from bench.errors import BenchError
from bench.models.build import BuildOutcome


def model_job(job_id: str, built: BuildOutcome | None, accelerator: str, threads: int, settings: RunSettings,
              what: str = "variant") -> ModelJob:
    """The variant's ModelJob at the model's own input shape; BenchError naming `what` when it was not built."""
    if built is None or built.error or built.manifest is None or built.path is None:
        raise BenchError(f"{what} not built: {built.error if built else 'not planned'}")
    return ModelJob(job_id=job_id, model_path=built.path, model_sha256=built.manifest.sha256, accelerator=accelerator,
                    threads=threads, input_shape=None, input_name=built.manifest.inputs[0].name, settings=settings)
