"""bench.toml -> frozen, validated settings; every key can be overridden from the command line.

    [run]
    models = ["efficientnet_lite0"]        # zoo names or model files
    variants = ["fp32", "int8", "pruned50", "res160"]
    devices = ["local"]
    accelerators = ["xnnpack"]             # xnnpack | none (host); gpu | nnapi (Android); Core ML compute
                                           # units all | cpuOnly | cpuAndGPU | cpuAndNeuralEngine (iPhone)
    threads = [2]                          # default: min(4, a phone's cores outside its slowest cluster);
                                           # on the host, its cores - 1
    dynamic_sizes = [224]                  # input sizes the `dynamic` variant is timed at
    num_runs = 50
    min_secs = 1.0
    max_secs = 150.0
    warmup_runs = 1
    warmup_min_secs = 0.5
    benchmark_model = "tools/benchmark_model"   # for phones: the tool built for their ABI
    run_eval = "tools/run_eval"            # optional: the ImageNet run_eval for their ABI scores accuracy
    op_profiling = false                   # per-operator times from benchmark_model
    sustained_s = 600                      # sustained jobs: each model for 10 minutes, in windows of
    window_s = 10                          # 10 s, at rate_hz = 30 (0: back to back), the device's state
    sample_every_s = 5                     # sampled every 5 s
    concurrent = ["fp32", "int8"]          # also run these at the same time, each in its own process,
    concurrent_s = 10                      # for 10 s: each one's slowdown against its own job, total FPS

    [[run.pipelines]]                      # models fed one after another, frame by frame (the host)
    name = "int8-then-fp32"                # a small model on every frame, a big one on every fifth
    stages = [{ variant = "int8" }, { variant = "fp32", every = 5 }]   # model: the run's first by default
    frames = 300
    rate_hz = 30                           # optional: frames offered at this rate; dropped frames counted

    [dataset]
    imagenet = "/data/imagenet/val"        # or BENCH_IMAGENET; none = accuracy not measured
    images = 500                           # evaluation images (all of the split when left out)
    subset = "first"                       # first | per-class (with images), or a named subset: imagenet-val-5k,
                                           # imagenet-val-1k (datasets/) or a manifest file; then no images

    [build]
    calibration_images = 200
    prune_images = 300
    prune_budget_s = 600
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.engines.loop import LoopSettings
from bench.errors import ConfigError, DatasetError
from bench.results.device_records import Accelerator
from bench.tomltypes import checked, declared_types, shown

ACCELERATORS = tuple(a.value for a in Accelerator)
SUBSET_RULES = ("first", "per-class")


_LOOP = LoopSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    models: tuple[str, ...] = ("efficientnet_lite0",)
    variants: tuple[str, ...] = ("fp32", "int8", "pruned50", "res160")
    devices: tuple[str, ...] = ("local",)
    accelerators: tuple[str, ...] = (Accelerator.XNNPACK.value,)
    threads: tuple[int, ...] = ()  # empty = min(4, device cores); on the host one core is left free
    dynamic_sizes: tuple[int, ...] = (224,)
    # the tool's loop (bench.engines.loop): its defaults are benchmark_model's own
    num_runs: int = _LOOP.num_runs
    min_secs: float = _LOOP.min_secs
    max_secs: float = _LOOP.max_secs
    warmup_runs: int = _LOOP.warmup_runs
    warmup_min_secs: float = _LOOP.warmup_min_secs
    benchmark_model: str | None = None  # host copy of the phones' benchmark_model (else the inventory's)
    # wait before each job until the CPU is cooler than this; None: 45 on phones, off on the host
    cooldown_below_c: float | None = None
    cooldown_timeout_s: float = 300.0
    watchdog_margin_s: float = 60.0  # a run is killed after 2 x max_secs + this
    fixed_performance: bool = False  # Android: `cmd power set-fixed-performance-mode-enabled true` for the run
    op_profiling: bool = False  # benchmark_model --enable_op_profiling: per-operator times (the profiler costs time)
    # exit 2 when every job was measured but a result is flagged unstable or the device was not in benchmark
    # state; by default such a run exits 0 and its warnings are printed and stored (as pyperf and hyperfine do)
    strict: bool = False
    clean: bool = False  # after the run, remove what bench pushed to the device (its own folder only)
    run_eval: str | None = None  # host copy of the phones' ImageNet run_eval: it then scores accuracy on the phone
    runner_ipa: str | None = None  # iPhones: the BenchRunner .ipa to install when missing or older
    # sustained jobs (bench.run.sustained): run each model this long in windows of window_s, at rate_hz
    # (benchmark_model --run_frequency; 0 = back to back), sampling the device every sample_every_s
    sustained_s: float = 0.0
    rate_hz: float = 0.0
    window_s: float = 10.0
    sample_every_s: float = 5.0
    # variants also run at the same time on the device, each in its own process, for concurrent_s seconds
    concurrent: tuple[str, ...] = ()
    concurrent_s: float = 10.0
    # models fed one after another per frame (bench.run.frames); [[run.pipelines]] tables
    pipelines: tuple[dict[str, Any], ...] = ()

    @property
    def loop(self) -> LoopSettings:
        """The tool's loop for an ordinary job (a sustained or concurrent job sets its own seconds)."""
        return LoopSettings(num_runs=self.num_runs, min_secs=self.min_secs, max_secs=self.max_secs,
                            warmup_runs=self.warmup_runs, warmup_min_secs=self.warmup_min_secs)


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetConfig:
    imagenet: Path | None = None
    images: int | None = None
    subset: str = "first"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildConfig:
    calibration_images: int = 200
    prune_images: int = 300
    prune_budget_s: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    source: Path | None = None  # the file it came from

    def to_dict(self) -> dict[str, Any]:
        def plain(section: Any) -> dict[str, Any]:
            return {f.name: _plain(getattr(section, f.name)) for f in fields(section)}

        return {"run": plain(self.run), "dataset": plain(self.dataset), "build": plain(self.build),
                "source": str(self.source) if self.source else None}


def config_from_dict(data: dict[str, Any], where: str = "stored run") -> Config:
    """Rebuild a Config saved with `to_dict` (a stored run's settings, for --resume), or read from a lab file."""
    return Config(run=_section(RunConfig, data.get("run", {}), "run", where),
                  dataset=_section(DatasetConfig, data.get("dataset", {}), "dataset", where),
                  build=_section(BuildConfig, data.get("build", {}), "build", where),
                  source=Path(data["source"]) if data.get("source") else None)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _section(cls: Any, data: Any, name: str, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {name} = {shown(data)}; expected a [{name}] table")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [{name}]; known: {sorted(known)}")
    hints = declared_types(cls)
    return cls(**{key: checked(value, hints[key], where, f"[{name}] {key}") for key, value in data.items()})


def validate(config: Config) -> Config:
    """Check every value; raise ConfigError naming the key and what it accepts."""
    run, dataset, build = config.run, config.dataset, config.build
    for name, values in (("models", run.models), ("variants", run.variants), ("devices", run.devices),
                         ("accelerators", run.accelerators)):
        if not values:
            raise ConfigError(f"[run] {name} is empty; give at least one")
    bad = [a for a in run.accelerators if a not in ACCELERATORS]
    if bad:
        raise ConfigError(f"unknown accelerator(s) {bad}; choose from {', '.join(ACCELERATORS)}")
    if any(not isinstance(t, int) or t < 1 for t in run.threads):
        raise ConfigError(f"threads must be whole numbers of at least 1, got {list(run.threads)}")
    if any(not isinstance(s, int) or not 32 <= s <= 1024 for s in run.dynamic_sizes):
        raise ConfigError(f"dynamic_sizes must be between 32 and 1024, got {list(run.dynamic_sizes)}")
    if run.cooldown_below_c is not None and not 20 <= run.cooldown_below_c <= 100:
        raise ConfigError(f"cooldown_below_c must be between 20 and 100 °C, got {run.cooldown_below_c}")
    if run.cooldown_timeout_s < 0 or run.watchdog_margin_s < 0:
        raise ConfigError("cooldown_timeout_s and watchdog_margin_s must be at least 0")
    if build.calibration_images < 1 or build.prune_images < 1 or build.prune_budget_s < 0:
        raise ConfigError("[build] calibration_images and prune_images must be at least 1, prune_budget_s at least 0")
    if run.num_runs < 1 or run.warmup_runs < 0:
        raise ConfigError("num_runs must be at least 1 and warmup_runs at least 0")
    if run.min_secs < 0 or run.warmup_min_secs < 0 or run.max_secs <= 0:
        raise ConfigError("min_secs and warmup_min_secs must be at least 0, max_secs above 0")
    if run.sustained_s < 0 or run.rate_hz < 0 or run.window_s < 1 or run.sample_every_s <= 0:
        raise ConfigError("sustained_s and rate_hz must be at least 0, window_s at least 1, sample_every_s above 0")
    if run.concurrent and (len(set(run.concurrent)) < 2 or not set(run.concurrent) <= set(run.variants)
                           or "dynamic" in run.concurrent or run.concurrent_s <= 0):
        raise ConfigError(f"concurrent takes two or more of the run's variants ({', '.join(run.variants)}), not "
                          f"dynamic, and concurrent_s above 0; got {list(run.concurrent)}: add them to --variants")
    for pipeline in run.pipelines:
        _check_frames(pipeline)
    if dataset.images is not None and dataset.images < 1:
        raise ConfigError(f"images must be at least 1, got {dataset.images}")
    if dataset.subset not in SUBSET_RULES:  # a named subset: its manifest must exist and be intact
        from bench.datasets.manifests import load_manifest

        try:
            load_manifest(dataset.subset)
        except DatasetError as exc:
            raise ConfigError(f"subset must be one of {', '.join(SUBSET_RULES)} or a named subset: {exc}") from exc
        if dataset.images is not None:
            raise ConfigError(f"images = {dataset.images} and subset {dataset.subset!r} both choose the evaluation "
                              "images; keep one (a named subset is scored whole)")
    if dataset.imagenet is not None and not dataset.imagenet.is_dir():
        raise ConfigError(f"ImageNet folder {dataset.imagenet} does not exist; fix --imagenet or BENCH_IMAGENET")
    if build.calibration_images < 1 or build.prune_images < 1 or build.prune_budget_s < 0:
        raise ConfigError("calibration_images and prune_images must be at least 1, prune_budget_s at least 0")
    return config


_FRAMES_KEYS = {"name", "stages", "frames", "rate_hz"}


def _check_frames(pipeline: Any) -> None:
    example = 'name = "small-then-big", stages = [{ variant = "int8" }, { variant = "fp32", every = 5 }]'
    if not isinstance(pipeline, dict) or not set(pipeline) <= _FRAMES_KEYS or \
            not re.fullmatch(r"[A-Za-z0-9_.+-]+", str(pipeline.get("name", ""))):
        raise ConfigError(f"each [[run.pipelines]] needs a name (letters, digits, - _ . +) and stages, and may set "
                          f"frames and rate_hz: {example}")
    stages = pipeline.get("stages")
    if not isinstance(stages, list) or not stages or not all(
            isinstance(st, dict) and st.get("variant") and set(st) <= {"model", "variant", "every"}
            and isinstance(st.get("every", 1), int) and st.get("every", 1) >= 1 for st in stages):
        raise ConfigError(f"pipeline {pipeline['name']}: stages are tables with a variant, and maybe a model and "
                          f"every (a whole number of frames, at least 1): {example}")
    if int(pipeline.get("frames", 300)) < 1 or float(pipeline.get("rate_hz", 0)) < 0:
        raise ConfigError(f"pipeline {pipeline['name']}: frames must be at least 1 and rate_hz at least 0")


def read_toml(path: Path, missing: str) -> dict[str, Any]:
    """A TOML file's tables; ConfigError saying `missing` (the next step) when it is absent, or what is wrong."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} does not exist; {missing}") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def load_config(path: Path | None) -> Config:
    """Read `path` (or ./bench.toml when present); defaults fill what is left out."""
    if path is None:
        candidate = Path("bench.toml")
        path = candidate if candidate.is_file() else None
    config = Config()
    if path is not None:
        data = read_toml(path, "drop --config or create it")
        unknown = sorted(set(data) - {"run", "dataset", "build"})
        if unknown:
            raise ConfigError(f"{path}: unknown section(s) {unknown}; known: run, dataset, build")
        try:
            config = Config(
                run=_section(RunConfig, data.get("run", {}), "run", str(path)),
                dataset=_section(DatasetConfig, data.get("dataset", {}), "dataset", str(path)),
                build=_section(BuildConfig, data.get("build", {}), "build", str(path)),
                source=path,
            )
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        try:  # ranges too, at load, naming the file (the command line's values are checked when applied)
            validate(config)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    if config.dataset.imagenet is None and os.environ.get("BENCH_IMAGENET"):
        config = replace(config, dataset=replace(config.dataset,
                                                 imagenet=Path(os.environ["BENCH_IMAGENET"]).expanduser()))
    return config


def with_overrides(config: Config, **overrides: Any) -> Config:
    """Apply command-line values (None = not given) to whichever section holds each key."""
    sections: dict[str, Any] = {"run": config.run, "dataset": config.dataset, "build": config.build}
    for key, value in overrides.items():
        if value is None:
            continue
        for name, section in sections.items():
            if key in {f.name for f in fields(section)}:
                sections[name] = replace(section, **{key: tuple(value) if isinstance(value, list) else value})
                break
        else:
            raise ConfigError(f"no setting named {key}")
    return validate(replace(config, **sections))
