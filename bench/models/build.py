"""Build model variants into the content-addressed variant cache.

A variant lives in `<cache>/variants/<model>/<variant>-<key16>/` as `model.tflite` plus
`manifest.json`. The key is the sha256 of everything that determines the file: the source weights,
the variant, the preprocessing, the calibration images, the pruning settings, the tool versions and
the builder's own version. Computing it imports no TensorFlow, so a cache hit takes well under a
second. A build writes into a temp folder and renames it: a failed or interrupted build leaves
nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.datasets.fallback import FALLBACK_DESCRIPTION, fallback_pixels
from bench.datasets.layouts import load_imagenet
from bench.datasets.preprocess import PreprocessSpec
from bench.datasets.scoring import normalizer
from bench.datasets.subsets import Subset, calibration_subset
from bench.datasets.tensor_cache import preprocessed
from bench.errors import BenchError, ModelError
from bench.fileio import atomic_directory, sha256_file
from bench.models.manifest import Calibration, VariantManifest
from bench.models.pruning import PruningSettings
from bench.models.tf_runtime import native_stderr_captured
from bench.models.variants import Quantization, VariantSpec
from bench.models.zoo import KerasModels, ModelSource, SourceKind

log = logging.getLogger(__name__)

# Bump when a change to the builders changes what they produce: old cache entries then miss.
BUILDER_VERSION = 3
MODEL_FILE = "model.tflite"
SPARSE_FILE = "model.sparse.tflite"
MANIFEST_FILE = "manifest.json"
_TOOLS = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSettings:
    cache_root: Path
    imagenet: Path | None = None
    int8_calibration_images: int = 200
    pruning_calibration_images: int = 300
    pruning: PruningSettings = field(default_factory=PruningSettings)
    calibration_outside: frozenset[str] = frozenset()  # image ids never calibrated with: a named evaluation subset


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutcome:
    model: str
    variant: str
    path: Path | None
    manifest: VariantManifest | None
    cache_hit: bool
    duration_s: float
    error: str | None = None


Builds = dict[tuple[str, str], BuildOutcome]  # (model, variant) -> what building it gave


def tool_versions() -> dict[str, str]:
    versions = {"bench": __version__}
    for name in _TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class CalibrationImages:
    """The calibration images of one build: chosen from ImageNet's calibration split, or the fallback."""

    def __init__(self, imagenet: Path | None, cache_root: Path, outside: frozenset[str] = frozenset()) -> None:
        self.imagenet = imagenet
        self.cache_root = cache_root
        self.outside = outside
        self._images = load_imagenet(imagenet).images if imagenet else None

    def subset(self, count: int) -> Subset | None:
        return calibration_subset(self._images, count, self.outside) if self._images is not None else None

    def describe(self, count: int) -> Calibration:
        subset = self.subset(count)
        if subset is None:
            return Calibration(source="fallback", count=count, description=FALLBACK_DESCRIPTION)
        return Calibration(
            source="imagenet", count=subset.count, names_sha256=subset.names_sha256,
            description=f"ImageNet val calibration split of {self.imagenet}, {subset.count} images spread over "
                        "classes (never used for accuracy)",
        )

    def pixels(self, count: int, spec: PreprocessSpec) -> np.ndarray:
        subset = self.subset(count)
        if subset is None:
            return fallback_pixels(count, spec)
        result = preprocessed(subset.images, spec, self.cache_root)
        if result.failed:
            log.warning("%d calibration images could not be decoded and were skipped", len(result.failed))
        return np.asarray(result.pixels)


def _uses_calibration(spec: VariantSpec) -> bool:
    return spec.quantization is Quantization.INT8 or spec.target_sparsity is not None


def _calibration_count(spec: VariantSpec, settings: BuildSettings) -> int:
    return settings.pruning_calibration_images if spec.target_sparsity else settings.int8_calibration_images


def variant_key(
    source: ModelSource, spec: VariantSpec, settings: BuildSettings, calibration: Calibration | None
) -> str:
    """Return the sha256 of everything that determines the variant's file."""
    payload: dict[str, Any] = {
        "builder": BUILDER_VERSION,
        "model": source.name,
        "source_sha256": source.sha256,
        "variant": spec.to_dict(),
        "preprocess": source.preprocess.to_dict(),
        "tools": {k: v for k, v in tool_versions().items() if k != "bench"},
    }
    if calibration is not None:  # which images, not where they were: a moved folder is still a hit
        payload["calibration"] = {"source": calibration.source, "count": calibration.count,
                                  "names_sha256": calibration.names_sha256}
    if spec.target_sparsity is not None:
        payload["pruning"] = settings.pruning.to_dict()
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def variant_folder(cache_root: Path, model: str, variant: str, key: str) -> Path:
    return cache_root / "variants" / model / f"{variant}-{key[:16]}"


_LOADED: dict[tuple[str, str, str], KerasModels] = {}


def _keras_models(source: ModelSource) -> KerasModels:
    """The source's Keras models, kept for the next call: a run builds its variants one at a time, just before
    each is measured, and loading the weights once is enough (the last two sources are kept)."""
    key = (source.name, str(source.path), source.sha256)
    if key not in _LOADED:
        while len(_LOADED) >= 2:
            del _LOADED[next(iter(_LOADED))]
        _LOADED[key] = KerasModels(source)
    return _LOADED[key]


def build_variants(
    source: ModelSource,
    specs: list[VariantSpec],
    settings: BuildSettings,
    on_outcome: Callable[[BuildOutcome], None] | None = None,
) -> list[BuildOutcome]:
    """Build (or find in the cache) each variant; one failing variant does not stop the others."""
    calibration_images = CalibrationImages(settings.imagenet, settings.cache_root, settings.calibration_outside)
    keras_models = _keras_models(source)
    outcomes = []
    for spec in specs:
        start = time.monotonic()
        try:
            outcome = _build_one(source, spec, settings, calibration_images, keras_models, start)
        except BenchError as exc:
            outcome = BuildOutcome(model=source.name, variant=spec.name, path=None, manifest=None, cache_hit=False,
                                   duration_s=time.monotonic() - start, error=str(exc))
            log.debug("%s %s: %s", source.name, spec.name, exc)  # the outcome carries it, and its jobs say it
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def _build_one(
    source: ModelSource, spec: VariantSpec, settings: BuildSettings, calibration_images: CalibrationImages,
    keras_models: KerasModels, start: float,
) -> BuildOutcome:
    if source.kind is SourceKind.COREML:
        raise ModelError(f"{source.path} is a Core ML model: it runs on iPhones as it is (--variants original "
                         "--device iphone); TFLite variants need a .tflite, .keras or SavedModel source")
    if source.kind is SourceKind.TFLITE and spec.needs_source:
        raise ModelError(f"variant {spec.name} needs the source model, and {source.path} is a .tflite file "
                         "benchmarked as it is; use --variants original, or give the SavedModel/.keras file")
    if source.kind is not SourceKind.TFLITE and not spec.needs_source:
        raise ModelError(f"variant {spec.name} is for .tflite files given as they are; {source.name} builds "
                         "fp32 instead")
    calibration = calibration_images.describe(_calibration_count(spec, settings)) if _uses_calibration(spec) else None
    key = variant_key(source, spec, settings, calibration)
    folder = variant_folder(settings.cache_root, source.name, spec.name, key)
    if (folder / MANIFEST_FILE).is_file():
        manifest = VariantManifest.load(folder / MANIFEST_FILE)
        log.debug("%s %s: cache hit %s", source.name, spec.name, folder)
        return BuildOutcome(model=source.name, variant=spec.name, path=folder / MODEL_FILE, manifest=manifest,
                            cache_hit=True, duration_s=time.monotonic() - start)
    takes = f" (fine-tunes for {settings.pruning.budget_s:.0f} s: --prune-budget-s)" if spec.target_sparsity else ""
    log.info("%s %s: building%s", source.name, spec.name, takes)
    with atomic_directory(folder) as tmp, native_stderr_captured():
        details = _write_variant(tmp, source, spec, settings, calibration_images, keras_models)
        manifest = _manifest(tmp, source, spec, key, calibration, details, time.monotonic() - start)
        manifest.save(tmp / MANIFEST_FILE)
    return BuildOutcome(model=source.name, variant=spec.name, path=folder / MODEL_FILE, manifest=manifest,
                        cache_hit=False, duration_s=time.monotonic() - start)


def _write_variant(
    folder: Path, source: ModelSource, spec: VariantSpec, settings: BuildSettings,
    calibration_images: CalibrationImages, keras_models: KerasModels,
) -> dict[str, Any]:
    """Write model.tflite (and extra files) into `folder`; return variant-specific details."""
    from bench.models.convert import convert

    if source.kind is SourceKind.TFLITE:
        from bench.engines.litert import load_interpreter

        assert source.path is not None
        load_interpreter(source.path)  # a file LiteRT cannot load is named as the user gave it, not as cached
        (folder / MODEL_FILE).write_bytes(source.path.read_bytes())
        return {"source_file": str(source.path)}
    size = spec.input_size
    calibration_size = size or source.preprocess.input_size
    inputs = None
    if _uses_calibration(spec):
        pixels = calibration_images.pixels(
            _calibration_count(spec, settings), source.preprocess.at_resolution(calibration_size)
        )
        inputs = normalizer(source.preprocess)(pixels.astype(np.float32))
    if spec.target_sparsity is not None:
        return _write_pruned(folder, keras_models, spec, settings, inputs)
    model = keras_models.at_size(size)
    data = convert(model, input_size=size, quantization=spec.quantization, calibration_inputs=inputs)
    (folder / MODEL_FILE).write_bytes(data)
    return {}


def _write_pruned(
    folder: Path, keras_models: KerasModels, spec: VariantSpec, settings: BuildSettings, inputs: np.ndarray | None
) -> dict[str, Any]:
    from dataclasses import replace

    from bench.models.convert import convert
    from bench.models.pruning import prune_and_distill

    assert spec.target_sparsity is not None and inputs is not None
    pruning = replace(settings.pruning, target_sparsity=spec.target_sparsity)
    pruned, report = prune_and_distill(keras_models.at_size(spec.input_size), inputs, pruning)
    (folder / MODEL_FILE).write_bytes(convert(pruned, input_size=spec.input_size, quantization=Quantization.NONE))
    details: dict[str, Any] = {"pruning": {**pruning.to_dict(), **report.to_dict()}}
    sparse = convert(pruned, input_size=spec.input_size, quantization=Quantization.NONE, sparse_encoding=True)
    (folder / SPARSE_FILE).write_bytes(sparse)
    details["sparse_encoded"] = {"file": SPARSE_FILE, "model_size_bytes": len(sparse),
                                 "sha256": hashlib.sha256(sparse).hexdigest(), **_host_loads(folder / SPARSE_FILE)}
    return details


def _host_loads(path: Path) -> dict[str, Any]:
    """Say whether the host LiteRT runtime loads and runs `path`, and if not, why."""
    from bench.engines.litert import load_interpreter

    try:
        interpreter = load_interpreter(path)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (ModelError, ValueError, RuntimeError) as exc:
        return {"loads_on_host": False, "host_error": str(exc).splitlines()[0]}
    return {"loads_on_host": True, "host_error": None}


def _manifest(
    folder: Path, source: ModelSource, spec: VariantSpec, key: str, calibration: Calibration | None,
    details: dict[str, Any], duration_s: float,
) -> VariantManifest:
    from bench.models.tflite_info import inspect_tflite

    info = inspect_tflite(folder / MODEL_FILE)
    input_size = spec.input_size if spec.input_size else source.preprocess.input_size
    sparsity = info.sparsity_over(pruned_only=True) if spec.target_sparsity is not None else None
    return VariantManifest(
        model=source.name, variant=spec.name, file_name=MODEL_FILE, sha256=sha256_file(folder / MODEL_FILE),
        model_size_bytes=info.model_size_bytes, inputs=info.inputs, outputs=info.outputs,
        preprocess=source.preprocess.at_resolution(input_size), source_sha256=source.sha256, cache_key=key,
        tool_versions=tool_versions(), build_duration_s=round(duration_s, 3),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"), calibration=calibration,
        weight_sparsity=sparsity, details=details,
    )
