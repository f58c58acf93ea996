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

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.config import Config, config_from_dict, read_toml, validate
from bench.devices.inventory import InventoryEntry, load_inventory
from bench.devices.select import inventory_folders
from bench.errors import ConfigError
from bench.lab.health import HealthLimits

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
    lab = dict(data.get("lab", {}))
    unknown = sorted(set(lab) - _LAB_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in [lab]; known: {sorted(_LAB_KEYS)}")
    matrix = tuple(dict(m) for m in lab.pop("matrix", []))
    for entry in matrix:
        bad = sorted(set(entry) - _MATRIX_KEYS)
        if bad or not entry.get("tags"):
            raise ConfigError(f"{path}: each [[lab.matrix]] needs tags and may set {sorted(_MATRIX_KEYS - {'tags'})}"
                              + (f"; unknown {bad}" if bad else ""))
    limits = HealthLimits(**{k: float(lab.pop(k)) for k in [f.name for f in fields(HealthLimits)] if k in lab})
    settings = LabSettings(devices=tuple(lab.get("devices", ())), retries=int(lab.get("retries", 1)),
                           quarantine_after=int(lab.get("quarantine_after", 3)), health=limits,
                           window=int(lab.get("window", 7)), matrix=matrix)
    config = validate(config_from_dict({k: data.get(k, {}) for k in ("run", "dataset", "build")}))
    inventory = load_inventory(inventory_folders(), files=(path,))  # the inventory and the file's own phones
    return config, settings, inventory


def config_for(config: Config, settings: LabSettings, entry: InventoryEntry | None) -> Config:
    """The run settings of one phone: [run], then the [[lab.matrix]] entries whose tags it carries."""
    overrides: dict[str, Any] = {}
    for override in settings.matrix:
        if entry is not None and set(override["tags"]) & set(entry.tags):
            overrides |= {k: tuple(v) for k, v in override.items() if k != "tags"}
    return replace(config, run=replace(config.run, **overrides)) if overrides else config
