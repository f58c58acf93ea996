"""The variants a run needs, each built (or found in the cache) just before the first job that measures it,
and the request a device gets for one of them: every way of measuring (alone, together, frame by frame)
starts from here."""

from __future__ import annotations

from pathlib import Path

from bench.config import Config
from bench.devices.base import ModelJob, RunSettings
from bench.errors import BenchError
from bench.models.build import BuildOutcome, Builds, BuildSettings, build_variants
from bench.models.pruning import PruningSettings
from bench.models.variants import parse_variant
from bench.models.zoo import resolve_source
from bench.plan import Job
from bench.results.device_records import Platform

BuildsByPlatform = dict[Platform, Builds]  # a lab night's variants, built once for all its phones


def builds_slowly(variant: str) -> bool:
    """Pruning fine-tunes for its time budget (minutes by default); every other variant builds in well under
    a minute. A run measures the quick ones first, so its first rows come early."""
    try:
        return parse_variant(variant).target_sparsity is not None
    except BenchError:
        return False


class RunBuilds:
    """A run's variants: the ones handed over built (a lab night's), the rest built the first time a job
    needs them (`ensure`), so a row is measured as soon as its own variant exists."""

    def __init__(self, config: Config, cache_root: Path, platform: Platform, prebuilt: Builds | None = None) -> None:
        self._config = config
        self._cache_root = cache_root
        self._platform = platform
        self._built: Builds = dict(prebuilt or {})

    def get(self, key: tuple[str, str]) -> BuildOutcome | None:
        return self._built.get(key)

    def missing(self, jobs: list[Job]) -> list[Job]:
        """The jobs whose variant is not built yet (one job per variant)."""
        seen: dict[tuple[str, str], Job] = {}
        for job in jobs:
            if (job.model, job.variant) not in self._built:
                seen.setdefault((job.model, job.variant), job)
        return list(seen.values())

    def ensure(self, jobs: list[Job]) -> None:
        """Build the variants of `jobs` that are not built yet."""
        missing = self.missing(jobs)
        if missing:
            self._built.update(build_for(self._config, missing, self._cache_root, self._platform))


def build_for(config: Config, jobs: list[Job], cache_root: Path, platform: Platform = Platform.LOCAL) -> Builds:
    """Build each model's variants: TFLite files, or on an iPhone Core ML packages converted from them."""
    settings = BuildSettings(
        cache_root=cache_root, imagenet=config.dataset.imagenet,
        int8_calibration_images=config.build.calibration_images,
        pruning_calibration_images=config.build.prune_images,
        pruning=PruningSettings(budget_s=config.build.prune_budget_s),
        calibration_outside=named_subset_ids(config),
    )
    built: Builds = {}
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


def named_subset_ids(config: Config) -> frozenset[str]:
    """The ids of the run's named evaluation subset (none for a rule): calibration keeps away from them."""
    if config.dataset.subset in ("first", "per-class") or config.dataset.imagenet is None:
        return frozenset()
    from bench.datasets.manifests import load_manifest

    return frozenset(load_manifest(config.dataset.subset).ids)


def request_for(job_id: str, built: BuildOutcome | None, accelerator: str, threads: int, settings: RunSettings,
                what: str = "variant") -> ModelJob:
    """The variant's ModelJob at the model's own input shape; BenchError naming `what` when it was not built."""
    if built is None or built.error or built.manifest is None or built.path is None:
        raise BenchError(f"{what} not built: {built.error if built else 'not planned'}")
    return ModelJob(job_id=job_id, model_path=built.path, model_sha256=built.manifest.sha256, accelerator=accelerator,
                    threads=threads, input_shape=None, input_name=built.manifest.inputs[0].name, settings=settings)
