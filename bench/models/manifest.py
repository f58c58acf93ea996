"""The manifest written beside every built variant: what the file is and how it was made."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets.preprocess import PreprocessSpec
from bench.errors import ResultFormatError
from bench.fileio import write_text_atomic

MANIFEST_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # -1 where the size is free (shape_signature)
    dtype: str
    quant_scale: float | None = None
    quant_zero_point: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "quant_scale": self.quant_scale, "quant_zero_point": self.quant_zero_point}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorInfo:
        return cls(name=data["name"], shape=tuple(data["shape"]), dtype=data["dtype"],
                   quant_scale=data.get("quant_scale"), quant_zero_point=data.get("quant_zero_point"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Which images set INT8 ranges or fine-tuned a pruned model."""

    source: str  # "imagenet" or "fallback"
    count: int
    description: str
    names_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "count": self.count, "description": self.description,
                "names_sha256": self.names_sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(source=data["source"], count=int(data["count"]), description=data["description"],
                   names_sha256=data.get("names_sha256"))


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantManifest:
    model: str
    variant: str
    file_name: str
    sha256: str
    model_size_bytes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    preprocess: PreprocessSpec
    source_sha256: str
    cache_key: str
    tool_versions: dict[str, str]
    build_duration_s: float
    built_at: str
    calibration: Calibration | None = None
    weight_sparsity: dict[str, Any] | None = None  # {"overall": x, "per_layer": {...}} over pruned weights
    details: dict[str, Any] = field(default_factory=dict)  # variant-specific facts (pruning run, sparse file)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "model": self.model,
            "variant": self.variant,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "model_size_bytes": self.model_size_bytes,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "preprocess": self.preprocess.to_dict(),
            "source_sha256": self.source_sha256,
            "cache_key": self.cache_key,
            "tool_versions": dict(self.tool_versions),
            "build_duration_s": self.build_duration_s,
            "built_at": self.built_at,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "weight_sparsity": self.weight_sparsity,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantManifest:
        try:
            if data.get("manifest_version") != MANIFEST_VERSION:
                raise ResultFormatError(f"manifest version {data.get('manifest_version')} is not {MANIFEST_VERSION}")
            return cls(
                model=data["model"], variant=data["variant"], file_name=data["file_name"], sha256=data["sha256"],
                model_size_bytes=int(data["model_size_bytes"]),
                inputs=tuple(TensorInfo.from_dict(t) for t in data["inputs"]),
                outputs=tuple(TensorInfo.from_dict(t) for t in data["outputs"]),
                preprocess=PreprocessSpec.from_dict(data["preprocess"]),
                source_sha256=data["source_sha256"], cache_key=data["cache_key"],
                tool_versions=dict(data["tool_versions"]), build_duration_s=float(data["build_duration_s"]),
                built_at=data["built_at"],
                calibration=Calibration.from_dict(data["calibration"]) if data.get("calibration") else None,
                weight_sparsity=data.get("weight_sparsity"), details=dict(data.get("details") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFormatError(f"manifest is missing or has a bad field: {exc}") from exc

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> VariantManifest:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultFormatError(f"{path}: unreadable manifest ({exc}); rebuild with bench models build") from exc
