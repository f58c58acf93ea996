"""The lab config: the run settings every phone shares, the lab's own settings, and its phones.

    [lab]                              # in the lab config, beside [run] / [dataset] / [build]
    devices = ["pixel", "galaxy"]      # default: every phone of the inventory
    retries = 1                        # per job, for transport faults (a dropped link, a hang)
    quarantine_after = 3               # failed jobs in a row that set a phone aside for the night
    battery_min_percent = 20
    temperature_max_c = 45
    free_storage_min_mb = 200
    window = 7                         # earlier nights a series is compared with

    [[lab.matrix]]                     # per device tags: what differs from [run]
    tags = ["flagship"]
    accelerators = ["xnnpack", "gpu"]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.config import Config, RunConfig, config_from_dict, read_toml, validate
from bench.devices.inventory import InventoryEntry, load_inventory
from bench.devices.select import inventory_folders
from bench.errors import ConfigError
from bench.lab.health import HealthLimits
from bench.tomltypes import checked, declared_types, shown

_LAB_KEYS = {"devices", "retries", "quarantine_after", "battery_min_percent", "temperature_max_c",
             "free_storage_min_mb", "window", "matrix"}
_MATRIX_KEYS = {"tags", "variants", "accelerators", "threads", "models"}


@dataclass(frozen=True, slots=True, kw_only=True)
class LabSettings:
    devices: tuple[str, ...] = ()  # empty: every phone of the inventory
    retries: int = 1
    quarantine_after: int = 3
    health: HealthLimits = field(default_factory=HealthLimits)
    window: int = 7
    matrix: tuple[dict[str, Any], ...] = ()


def load_lab(path: Path) -> tuple[Config, LabSettings, dict[str, InventoryEntry]]:
    """The lab config: run settings, lab settings, and the phones (the inventory plus the file's own [[device]])."""
    data = read_toml(path, "copy devices/examples/lab.toml there (it runs as it is against "
                                 "python -m bench sim start --count 2) and list your phones in it")
    lab = data.get("lab", {})
    if not isinstance(lab, dict):
        raise ConfigError(f"{path}: lab = {shown(lab)}; expected a [lab] table")
    unknown = sorted(set(lab) - _LAB_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in [lab]; known: {sorted(_LAB_KEYS)}")
    where = str(path)
    matrix = _matrix(lab.get("matrix", []), where)
    limit_types = declared_types(HealthLimits)
    limits = HealthLimits(**{k: checked(lab[k], limit_types[k], where, f"[lab] {k}") for k in limit_types if k in lab})
    types = declared_types(LabSettings)
    values = {k: checked(lab[k], types[k], where, f"[lab] {k}") for k in ("devices", "retries", "quarantine_after",
                                                                           "window") if k in lab}
    settings = LabSettings(**values, health=limits, matrix=matrix)
    _check_ranges(settings, where)
    config = validate(config_from_dict({k: data.get(k, {}) for k in ("run", "dataset", "build")}, where))
    inventory = load_inventory(inventory_folders(), files=(path,))  # the inventory and the file's own phones
    return config, settings, inventory


def _matrix(raw: Any, where: str) -> tuple[dict[str, Any], ...]:
    """The [[lab.matrix]] tables, each value of the type its [run] key declares."""
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise ConfigError(f"{where}: lab.matrix must be [[lab.matrix]] tables, one per set of tags")
    types = {**declared_types(RunConfig), "tags": tuple[str, ...]}
    matrix = []
    for entry in raw:
        bad = sorted(set(entry) - _MATRIX_KEYS)
        if bad or not entry.get("tags"):
            raise ConfigError(f"{where}: each [[lab.matrix]] needs tags and may set {sorted(_MATRIX_KEYS - {'tags'})}"
                              + (f"; unknown {bad}" if bad else ""))
        matrix.append({k: checked(v, types[k], where, f"[[lab.matrix]] {k}") for k, v in entry.items()})
    return tuple(matrix)


def _check_ranges(settings: LabSettings, where: str) -> None:
    health = settings.health
    if settings.retries < 0 or settings.quarantine_after < 1 or settings.window < 1:
        raise ConfigError(f"{where}: [lab] retries must be at least 0, quarantine_after and window at least 1")
    if not 0 <= health.battery_min_percent <= 100 or health.free_storage_min_mb < 0 or \
            not 20 <= health.temperature_max_c <= 100:
        raise ConfigError(f"{where}: [lab] battery_min_percent must be 0-100, temperature_max_c 20-100 °C, "
                          "free_storage_min_mb at least 0")


def config_for(config: Config, settings: LabSettings, entry: InventoryEntry | None) -> Config:
    """The run settings of one phone: [run], then the [[lab.matrix]] entries whose tags it carries."""
    overrides: dict[str, Any] = {}
    for override in settings.matrix:
        if entry is not None and set(override["tags"]) & set(entry.tags):
            overrides |= {k: tuple(v) for k, v in override.items() if k != "tags"}
    return replace(config, run=replace(config.run, **overrides)) if overrides else config
