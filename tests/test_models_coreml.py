"""Core ML variants converted from the TFLite ones: structure, precision, int8 weights, sparsity, and their numbers.

coremltools cannot run a model on Linux; the programs are executed op by op with numpy
(tests/mil_numpy.py) and compared with LiteRT running the TFLite file they came from.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.datasets.fallback import fallback_pixels
from bench.datasets.preprocess import PreprocessSpec
from bench.engines.litert_classify import iterate_scores
from tests.mil_numpy import run_program

pytest.importorskip("coremltools", reason="the ios extra (coremltools) is not installed")


class _Saved:
    """A saved package's MIL program (a package loaded from disk keeps only its spec): what run_program reads."""

    def __init__(self, package: Path) -> None:
        import coremltools as ct
        from coremltools.converters.mil.frontend.milproto.load import load

        spec = ct.utils.load_spec(str(package))
        weights = package / "Data" / "com.apple.CoreML" / "weights"
        self._mil_program = load(spec, specification_version=spec.specificationVersion, file_weights_dir=str(weights))


def _scores(package: Path, pixels: np.ndarray) -> np.ndarray:
    model = _Saved(package)
    return np.stack([run_program(model, image[None].astype(np.float32)).reshape(-1) for image in pixels])


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return fallback_pixels(2, PreprocessSpec(), seed=7)


def test_every_variant_is_a_package_with_a_manifest_that_says_what_it_stores(lite0_coreml) -> None:  # type: ignore[no-untyped-def]
    for name, outcome in lite0_coreml.items():
        manifest = outcome.manifest
        assert outcome.path.name == "model.mlpackage" and (outcome.path / "Manifest.json").is_file(), name
        assert manifest.details["format"] == "coreml" and manifest.inputs[0].name == "pixels", name
        assert manifest.details["from_tflite"]["variant"] == {"fp16": "fp32", "int8": "fp32"}.get(name, name)
    storage = {name: o.manifest.details["weight_storage"] for name, o in lite0_coreml.items()}
    assert storage["fp32"]["int8"] == 0 and storage["fp32"]["sparse"] == 0
    assert storage["int8"]["int8"] >= 40  # the small depthwise kernels stay fp16 (under coremltools' size floor)
    assert storage["pruned50"]["sparse"] >= 20
    assert lite0_coreml["dynamic"].manifest.inputs[0].shape == (1, -1, -1, 3)
    assert lite0_coreml["dynamic"].manifest.details["enumerated_sizes"] == [224, 192, 160, 128]
    assert lite0_coreml["res160"].manifest.inputs[0].shape == (1, 160, 160, 3)
    sizes = {name: o.manifest.model_size_bytes for name, o in lite0_coreml.items()}
    assert sizes["fp16"] < 0.55 * sizes["fp32"] and sizes["int8"] < 0.6 * sizes["fp16"]


def test_the_pruned_packages_zeros_are_the_pruned_tflite_files(lite0_coreml, lite0_variants) -> None:  # type: ignore[no-untyped-def]
    coreml = lite0_coreml["pruned50"].manifest.weight_sparsity["overall"]
    tflite = lite0_variants["pruned50"].manifest.weight_sparsity["overall"]
    # the Core ML figure counts every conv and dense weight, the TFLite one only the pruned layers
    assert 0.35 < coreml < tflite + 0.01


def test_the_fp32_program_computes_what_litert_computes(lite0_coreml, lite0_variants, photos: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    reference = np.stack(list(iterate_scores(lite0_variants["fp32"].path, photos, normalize=lambda x: x)))
    got = _scores(lite0_coreml["fp32"].path, photos)
    np.testing.assert_allclose(got, reference, atol=1e-4)


@pytest.mark.parametrize(("variant", "tflite", "size"), [("fp16", "fp32", 224), ("int8", "fp32", 224),
                                                         ("pruned50", "pruned50", 224), ("res160", "res160", 160),
                                                         ("dynamic", "dynamic", 160)])
def test_each_variant_ranks_like_its_tflite_source(lite0_coreml, lite0_variants, variant: str, tflite: str,  # type: ignore[no-untyped-def]
                                                   size: int) -> None:
    pixels = fallback_pixels(2, PreprocessSpec(input_size=size), seed=3)
    reference = np.stack(list(iterate_scores(lite0_variants[tflite].path, pixels, normalize=lambda x: x)))
    got = _scores(lite0_coreml[variant].path, pixels)
    assert (np.argmax(got, axis=1) == np.argmax(reference, axis=1)).all()
    assert np.abs(got - reference).max() < 0.05


def test_a_second_build_is_a_cache_hit_without_coremltools(lite0_coreml, session_cache: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import TEST_PRUNE_BUDGET_S, imagenet_or_none

    script = (
        "import sys; from pathlib import Path\n"
        "from bench.models.build import BuildSettings\n"
        "from bench.models.coreml_build import build_coreml_variants\n"
        "from bench.models.pruning import PruningSettings\n"
        "from bench.models.zoo import resolve_source\n"
        f"s = BuildSettings(cache_root=Path({str(session_cache)!r}), imagenet={imagenet_or_none()!r}, "
        f"pruning=PruningSettings(budget_s={TEST_PRUNE_BUDGET_S}))\n"
        "out = build_coreml_variants(resolve_source('efficientnet_lite0'), ['fp16', 'int8'], s)\n"
        "assert all(o.cache_hit for o in out), [o.error for o in out]\n"
        "print(sorted(m for m in ('coremltools', 'tensorflow') if m in sys.modules))\n"
    )
    script = script.replace("imagenet=PosixPath(", "imagenet=Path(")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_graph_with_an_op_core_ml_is_not_given_is_refused(lite0_variants) -> None:  # type: ignore[no-untyped-def]
    from bench.errors import ModelError
    from bench.models.coreml import to_mlmodel

    with pytest.raises(ModelError, match=r"has no Core ML counterpart|is not float32"):
        to_mlmodel(lite0_variants["int8"].path)


def test_your_own_package_is_benchmarked_as_it_is(lite0_coreml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from bench.models.build import BuildSettings, build_variants
    from bench.models.coreml_build import build_coreml_variants
    from bench.models.variants import parse_variant
    from bench.models.zoo import resolve_source

    mine = tmp_path / "mine.mlpackage"
    shutil.copytree(lite0_coreml["res160"].path, mine)
    source = resolve_source(str(mine))
    settings = BuildSettings(cache_root=tmp_path / "cache")
    original, other = build_coreml_variants(source, ["original", "int8"], settings)
    assert original.error is None and original.manifest.inputs[0].shape == (1, 160, 160, 3)
    assert (original.path / "Manifest.json").is_file() and original.manifest.details["as_given"] == str(mine)
    assert "use --variants original" in (other.error or "")
    assert build_coreml_variants(source, ["original"], settings)[0].cache_hit
    (tflite,) = build_variants(source, [parse_variant("fp32")], settings)
    assert "runs on iPhones as it is" in (tflite.error or "")
