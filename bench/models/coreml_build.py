"""Build (or find in the cache) the Core ML variants of a model, each from its TFLite float variant.

The same variant names as on the other platforms: `fp16`, `fp32` and `int8` come from the TFLite
`fp32` file, `pruned50` and `resN` from theirs, and `dynamic` from the TFLite `dynamic` file with
the input sizes 224/192/160/128 enumerated. Each lands in `variants/<model>/coreml-<variant>-<key>/`
as `model.mlpackage` with a manifest, keyed by the source file's sha256, the variant, coremltools'
version and the converter's; a second build is a cache hit that imports neither TensorFlow nor
coremltools.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.errors import BenchError, ConfigError, ModelError
from bench.fileio import atomic_directory
from bench.models.build import BuildOutcome, BuildSettings, build_variants, variant_folder
from bench.models.manifest import TensorInfo, VariantManifest
from bench.models.variants import parse_variant
from bench.models.zoo import ModelSource, SourceKind

log = logging.getLogger(__name__)

PACKAGE = "model.mlpackage"
MANIFEST = "manifest.json"
CONVERTER_VERSION = 1  # bump when bench.models.coreml changes what it writes
ENUMERATED_SIZES = (224, 192, 160, 128)
_PRUNED = re.compile(r"^pruned\d+$")
_RES = re.compile(r"^res\d+$")


def tflite_source(variant: str) -> str:
    """The TFLite variant a Core ML variant is converted from (`original`: a user's float .tflite as given)."""
    if variant == "original":
        return variant
    if variant in ("fp32", "fp16", "int8"):
        return "fp32"
    if variant == "dynamic" or _PRUNED.match(variant) or _RES.match(variant):
        return variant
    raise ConfigError(f"no Core ML variant {variant!r}; iPhones take fp16, fp32, int8, pruned50, resN, dynamic "
                      f"(enumerated sizes {', '.join(map(str, ENUMERATED_SIZES))}) and original (your own "
                      ".mlpackage / .mlmodel as it is, or your float .tflite converted)")


def package_sha256(folder: Path) -> str:
    """A package's digest: every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _coremltools_version() -> str:
    try:
        return metadata.version("coremltools")
    except metadata.PackageNotFoundError as exc:
        raise BenchError("Core ML variants need the ios extra: pip install 'ondevice-bench[ios]'") from exc


def build_coreml_variants(source: ModelSource, names: list[str], settings: BuildSettings) -> list[BuildOutcome]:
    """Build each Core ML variant; one failing does not stop the others."""
    if source.kind is SourceKind.COREML:
        return [_as_given(source, name, settings) for name in names]
    needed: dict[str, str] = {}
    outcomes: list[BuildOutcome] = []
    for name in names:
        try:
            needed[name] = tflite_source(name)
        except ConfigError as exc:
            outcomes.append(BuildOutcome(model=source.name, variant=name, path=None, manifest=None, cache_hit=False,
                                         duration_s=0.0, error=str(exc)))
    sources = sorted(set(needed.values()))
    floats = {o.variant: o for o in build_variants(
        source, [parse_variant(v, source.preprocess.input_size) for v in sources], settings)}
    for name, from_variant in needed.items():
        start = time.monotonic()
        tflite = floats[from_variant]
        try:
            if tflite.error or tflite.manifest is None or tflite.path is None:
                raise ModelError(f"its TFLite {from_variant} variant was not built: {tflite.error}")
            outcomes.append(_build_one(source, name, tflite, settings, start))
        except BenchError as exc:
            log.error("%s coreml %s: %s", source.name, name, exc)
            outcomes.append(BuildOutcome(model=source.name, variant=name, path=None, manifest=None, cache_hit=False,
                                         duration_s=time.monotonic() - start, error=str(exc)))
    order = {name: i for i, name in enumerate(names)}
    return sorted(outcomes, key=lambda o: order.get(o.variant, len(order)))


def _as_given(source: ModelSource, name: str, settings: BuildSettings) -> BuildOutcome:
    """A user's own .mlpackage / .mlmodel: copied into the cache as it is, its inputs read from its spec."""
    import shutil

    start = time.monotonic()
    assert source.path is not None
    if name != "original":
        return BuildOutcome(model=source.name, variant=name, path=None, manifest=None, cache_hit=False, duration_s=0.0,
                            error=f"{source.path.name} is benchmarked as it is: use --variants original")
    key = hashlib.sha256(f"original\0{source.sha256}".encode()).hexdigest()
    folder = variant_folder(settings.cache_root, source.name, "coreml-original", key)
    target = folder / f"model{source.path.suffix}"
    if (folder / MANIFEST).is_file():
        return BuildOutcome(model=source.name, variant=name, path=target, manifest=VariantManifest.load(
            folder / MANIFEST), cache_hit=True, duration_s=time.monotonic() - start)
    import coremltools as ct

    try:
        spec = ct.utils.load_spec(str(source.path))
    except Exception as exc:  # coremltools raises many kinds for a file that is not a model
        return BuildOutcome(model=source.name, variant=name, path=None, manifest=None, cache_hit=False,
                            duration_s=time.monotonic() - start,
                            error=f"{source.path} is not a Core ML model coremltools can read ({exc})")

    def tensor(feature: Any) -> TensorInfo:
        array = feature.type.multiArrayType
        shape = tuple(int(d) for d in array.shape) or (-1,)
        if array.HasField("enumeratedShapes") or array.HasField("shapeRange"):
            shape = tuple(-1 if i in (1, 2) else d for i, d in enumerate(shape))
        return TensorInfo(name=feature.name, shape=shape, dtype="float32")

    with atomic_directory(folder) as tmp:
        copied = tmp / target.name
        if source.path.is_dir():
            shutil.copytree(source.path, copied)
        else:
            shutil.copyfile(source.path, copied)
        manifest = VariantManifest(
            model=source.name, variant=name, file_name=target.name,
            sha256=package_sha256(copied) if copied.is_dir() else source.sha256,
            model_size_bytes=sum(p.stat().st_size for p in copied.rglob("*") if p.is_file()) if copied.is_dir()
            else copied.stat().st_size,
            inputs=tuple(tensor(f) for f in spec.description.input),
            outputs=tuple(tensor(f) for f in spec.description.output),
            preprocess=source.preprocess, source_sha256=source.sha256, cache_key=key,
            tool_versions={"coremltools": _coremltools_version()}, build_duration_s=0.0,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            details={"format": "coreml", "as_given": str(source.path)},
        )
        manifest.save(tmp / MANIFEST)
    return BuildOutcome(model=source.name, variant=name, path=target, manifest=manifest, cache_hit=False,
                        duration_s=time.monotonic() - start)


def _build_one(source: ModelSource, name: str, tflite: BuildOutcome, settings: BuildSettings,
               start: float) -> BuildOutcome:
    assert tflite.manifest is not None and tflite.path is not None
    tools = {"coremltools": _coremltools_version(), "converter": str(CONVERTER_VERSION)}
    key = hashlib.sha256(json.dumps({"variant": name, "from": tflite.manifest.sha256, **tools},
                                    sort_keys=True).encode()).hexdigest()
    folder = variant_folder(settings.cache_root, source.name, f"coreml-{name}", key)
    if (folder / MANIFEST).is_file():
        log.debug("%s coreml %s: cache hit %s", source.name, name, folder)
        return BuildOutcome(model=source.name, variant=name, path=folder / PACKAGE,
                            manifest=VariantManifest.load(folder / MANIFEST), cache_hit=True,
                            duration_s=time.monotonic() - start)
    from bench.models.coreml import quantize_int8, sparsify, summarize_weights, to_mlmodel
    from bench.models.tf_runtime import native_stderr_captured

    log.info("%s coreml %s: converting from %s", source.name, name, tflite.path)
    logging.getLogger("coremltools").setLevel(logging.ERROR)  # it logs every skipped weight
    sizes = ENUMERATED_SIZES if name == "dynamic" else None
    with atomic_directory(folder) as tmp, native_stderr_captured():
        model = to_mlmodel(tflite.path, precision="fp32" if name == "fp32" else "fp16", sizes=sizes)
        if name == "int8":
            model = quantize_int8(model)
        elif _PRUNED.match(name):
            model = sparsify(model)
        weights = summarize_weights(model)
        model.save(str(tmp / PACKAGE))
        manifest = _manifest(tmp / PACKAGE, source, name, key, tflite, tools, weights.to_dict(), sizes,
                             time.monotonic() - start)
        manifest.save(tmp / MANIFEST)
    return BuildOutcome(model=source.name, variant=name, path=folder / PACKAGE, manifest=manifest, cache_hit=False,
                        duration_s=time.monotonic() - start)


def _manifest(package: Path, source: ModelSource, name: str, key: str, tflite: BuildOutcome, tools: dict[str, str],
              weights: dict[str, Any], sizes: tuple[int, ...] | None, duration_s: float) -> VariantManifest:
    assert tflite.manifest is not None
    float_input, float_output = tflite.manifest.inputs[0], tflite.manifest.outputs[0]
    shape = (1, -1, -1, 3) if sizes else float_input.shape
    return VariantManifest(
        model=source.name, variant=name, file_name=PACKAGE, sha256=package_sha256(package),
        model_size_bytes=sum(p.stat().st_size for p in package.rglob("*") if p.is_file()),
        inputs=(TensorInfo(name="pixels", shape=shape, dtype="float32"),),
        outputs=(TensorInfo(name=float_output.name, shape=float_output.shape, dtype="float32"),),
        preprocess=tflite.manifest.preprocess, source_sha256=tflite.manifest.source_sha256, cache_key=key,
        tool_versions=tools, build_duration_s=round(duration_s, 3),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        weight_sparsity={"overall": weights["sparsity"]} if _PRUNED.match(name) else None,
        details={"format": "coreml", "precision": "fp32" if name == "fp32" else "fp16",
                 "weights": "int8 per channel" if name == "int8" else ("sparse" if _PRUNED.match(name) else "dense"),
                 "from_tflite": {"variant": tflite.variant, "sha256": tflite.manifest.sha256},
                 "weight_storage": weights, "enumerated_sizes": list(sizes) if sizes else None,
                 "input": float_input.name},
    )
