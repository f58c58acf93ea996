"""What the variant cache key depends on, and what it must not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.models.build import BuildSettings, variant_key
from bench.models.manifest import Calibration
from bench.models.pruning import PruningSettings
from bench.models.variants import parse_variant
from bench.models.zoo import resolve_source

SOURCE = resolve_source("efficientnet_lite0")
SETTINGS = BuildSettings(cache_root=Path("/unused"))
CALIBRATION = Calibration(source="imagenet", count=200, description="in /data/a", names_sha256="ab" * 32)


def test_same_inputs_same_key() -> None:
    int8 = parse_variant("int8")
    assert variant_key(SOURCE, int8, SETTINGS, CALIBRATION) == variant_key(SOURCE, int8, SETTINGS, CALIBRATION)


def test_a_moved_imagenet_folder_is_still_a_hit() -> None:
    moved = replace(CALIBRATION, description="in /mnt/elsewhere")
    int8 = parse_variant("int8")
    assert variant_key(SOURCE, int8, SETTINGS, CALIBRATION) == variant_key(SOURCE, int8, SETTINGS, moved)


def test_other_calibration_images_or_variants_are_other_keys() -> None:
    int8 = parse_variant("int8")
    keys = {
        variant_key(SOURCE, int8, SETTINGS, CALIBRATION),
        variant_key(SOURCE, int8, SETTINGS, replace(CALIBRATION, names_sha256="cd" * 32)),
        variant_key(SOURCE, int8, SETTINGS, replace(CALIBRATION, count=100)),
        variant_key(SOURCE, parse_variant("fp32"), SETTINGS, None),
        variant_key(SOURCE, parse_variant("res160"), SETTINGS, None),
    }
    assert len(keys) == 5


def test_pruning_settings_change_only_the_pruned_key() -> None:
    longer = replace(SETTINGS, pruning=PruningSettings(budget_s=1200.0))
    pruned, fp32 = parse_variant("pruned50"), parse_variant("fp32")
    assert variant_key(SOURCE, pruned, SETTINGS, CALIBRATION) != variant_key(SOURCE, pruned, longer, CALIBRATION)
    assert variant_key(SOURCE, fp32, SETTINGS, None) == variant_key(SOURCE, fp32, longer, None)


def test_any_pruning_rate_from_10_to_95_is_a_variant_of_its_own() -> None:
    import pytest

    from bench.errors import ConfigError

    assert parse_variant("pruned75").target_sparsity == 0.75 and parse_variant("pruned10").target_sparsity == 0.1
    assert parse_variant("pruned50") == replace(parse_variant("pruned75"), name="pruned50", target_sparsity=0.5)
    assert variant_key(SOURCE, parse_variant("pruned75"), SETTINGS, CALIBRATION) != \
        variant_key(SOURCE, parse_variant("pruned50"), SETTINGS, CALIBRATION)
    for outside in ("pruned5", "pruned96", "pruned"):
        with pytest.raises(ConfigError, match=r"any prunedNN, 10\.\.95"):
            parse_variant(outside)
