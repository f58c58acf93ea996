"""Variant names and what each one means.

fp32, fp16 (float16 weights), int8 (full-integer PTQ, uint8 in and out), drq (dynamic-range
quantisation), prunedNN (NN% weight sparsity, fine-tuned; 10..95), resN (fixed N x N input),
dynamic (free height and width, resized by the runtime per run), original (a user's .tflite file as
given).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError


class Quantization(enum.Enum):
    NONE = "none"
    FP16 = "fp16"
    INT8 = "int8"
    DYNAMIC_RANGE = "drq"


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantSpec:
    name: str
    quantization: Quantization = Quantization.NONE
    target_sparsity: float | None = None
    input_size: int | None = 224  # None = dynamic height and width
    needs_source: bool = True  # False only for the model file as given

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quantization": self.quantization.value,
            "target_sparsity": self.target_sparsity,
            "input_size": self.input_size,
        }


DEFAULT_VARIANTS = ("fp32", "int8", "pruned50", "res160")
ALL_VARIANTS_HELP = (
    "fp32, fp16, int8, drq, pruned50 (any prunedNN, 10..95), res192, res160, res128 (any resN, 32..1024), dynamic; "
    "original (a .tflite file as given)"
)
_RES_RE = re.compile(r"^res(\d+)$")
_PRUNED_RE = re.compile(r"^pruned(\d+)$")


def parse_variant(name: str, default_size: int = 224) -> VariantSpec:
    """Return the spec for a variant name, or raise ConfigError listing the known ones."""
    name = name.strip().lower()
    fixed = {
        "fp32": VariantSpec(name="fp32", input_size=default_size),
        "fp16": VariantSpec(name="fp16", quantization=Quantization.FP16, input_size=default_size),
        "int8": VariantSpec(name="int8", quantization=Quantization.INT8, input_size=default_size),
        "drq": VariantSpec(name="drq", quantization=Quantization.DYNAMIC_RANGE, input_size=default_size),
        "dynamic": VariantSpec(name="dynamic", input_size=None),
        "original": VariantSpec(name="original", input_size=None, needs_source=False),
    }
    if name in fixed:
        return fixed[name]
    match = _RES_RE.match(name)
    if match and 32 <= int(match.group(1)) <= 1024:
        return VariantSpec(name=name, input_size=int(match.group(1)))
    match = _PRUNED_RE.match(name)
    if match and 10 <= int(match.group(1)) <= 95:
        return VariantSpec(name=name, target_sparsity=int(match.group(1)) / 100, input_size=default_size)
    raise ConfigError(f"unknown variant {name!r}; known: {ALL_VARIANTS_HELP}")


def parse_variant_list(text: str, default_size: int = 224) -> list[VariantSpec]:
    names = [part for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"no variants given; choose from: {ALL_VARIANTS_HELP}")
    specs = [parse_variant(name, default_size) for name in names]
    return list({spec.name: spec for spec in specs}.values())
