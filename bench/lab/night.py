"""A lab night: the matrix over every phone at once, one job at a time per phone, then the verdicts.

Each phone runs in a thread of its own (bench.lab.phone: its lease, health check, jobs, quarantine).
Variants are built once for the night before any phone starts. The night's state
(`<data>/lab/<night>.json`) names each phone's run, so `--resume NIGHT` finishes only what is
missing. With a cluster (bench.lab.ray), each phone's night runs on the lab host it is plugged into.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bench.config import Config
from bench.devices.inventory import InventoryEntry
from bench.errors import ConfigError
from bench.fileio import write_text_atomic
from bench.lab.phone import PhoneNight, phone_night
from bench.lab.settings import LabSettings, config_for
from bench.paths import data_dir
from bench.plan import plan_jobs
from bench.results.device_records import Platform
from bench.results.history import SeriesVerdicts
from bench.run.builds import BuildsByPlatform, build_for
from bench.run.frames import build_jobs


class Cluster(Protocol):
    """Phones spread over lab hosts (bench.lab.ray.RayLab): who they are, and one phone's night on its host."""

    def phones(self) -> list[str]: ...

    def phone_night(self, phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                    store_path: Path, built: BuildsByPlatform, save: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Night:
    night_id: str
    phones: dict[str, PhoneNight]
    started_at: str = ""
    wall_s: float = 0.0

    @property
    def regressions(self) -> list[tuple[str, SeriesVerdicts]]:
        return [(p.alias, v) for p in self.phones.values() for v in p.verdicts if v.regressions]

    def to_dict(self) -> dict[str, Any]:
        return {"night_id": self.night_id, "started_at": self.started_at, "wall_s": round(self.wall_s, 2),
                "phones": {a: p.to_dict() for a, p in self.phones.items()}}


def night_file(night_id: str) -> Path:
    return data_dir() / "lab" / f"{night_id}.json"


def _save(night: Night, lock: threading.Lock) -> None:
    with lock:
        write_text_atomic(night_file(night.night_id), json.dumps(night.to_dict(), indent=2) + "\n")


def run_night(config: Config, settings: LabSettings, inventory: dict[str, InventoryEntry], store_path: Path,
              cache_root: Path, *, resume: str | None = None, cluster: Cluster | None = None) -> Night:
    """Run the lab's matrix on every phone in parallel; return the night with each phone's outcome and verdicts.

    With a `cluster`, each phone's jobs run on the host that has it and its results come back to this
    host's store; without, every phone is driven from this process.
    """
    aliases = list(settings.devices) or (cluster.phones() if cluster else sorted(
        a for a, e in inventory.items() if e.platform in ("android", "ios")))
    if not aliases:
        raise ConfigError("the lab has no phones: list them in [lab] devices or in devices/*.toml"
                          + ("; or start `python -m bench lab node` on the hosts they are plugged into" if cluster
                             else ""))
    previous: dict[str, Any] = {}
    if resume:
        try:
            previous = json.loads(night_file(resume).read_text())["phones"]
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"no lab night {resume!r} to resume in {night_file(resume).parent}") from exc
    night = Night(night_id=resume or f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-lab-{secrets.token_hex(2)}",
                  phones={a: PhoneNight(alias=a, run_id=previous.get(a, {}).get("run_id")) for a in aliases},
                  started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    lock = threading.Lock()
    built = _build_once(config, settings, inventory, aliases, cache_root)
    started = time.monotonic()
    _save(night, lock)

    def save() -> None:
        _save(night, lock)

    with ThreadPoolExecutor(max_workers=len(aliases), thread_name_prefix="lab") as pool:
        for phone in night.phones.values():
            phone_config, entry = config_for(config, settings, inventory.get(phone.alias)), inventory.get(phone.alias)
            if cluster is not None:
                pool.submit(cluster.phone_night, phone, phone_config, settings, entry, store_path, built, save)
            else:
                pool.submit(phone_night, phone, phone_config, settings, entry, store_path, cache_root, built, save)
    night.wall_s = time.monotonic() - started
    _save(night, lock)
    return night


def _build_once(config: Config, settings: LabSettings, inventory: dict[str, InventoryEntry], aliases: list[str],
                cache_root: Path) -> BuildsByPlatform:
    """Every variant any phone of the night needs, built before the phones start (one build, not one per phone)."""
    built: BuildsByPlatform = {}
    configs = [config_for(config, settings, inventory.get(a)) for a in aliases]
    for platform in sorted({Platform.IOS if (e := inventory.get(a)) and e.platform == "ios" else Platform.ANDROID
                            for a in aliases}, key=lambda p: p.value):
        jobs = [job for c in configs for job in build_jobs(c, plan_jobs(c, "lab", 1, platform=platform))]
        built[platform] = build_for(config, jobs, cache_root, platform)
    return built
