"""A lab night: the matrix over every phone at once, one job at a time per phone, then the verdicts.

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

Each phone runs in a thread of its own under its lease (bench.run.lease), after a health check
(bench.run.health); a phone that fails it, or fails `quarantine_after` jobs in a row, is quarantined
with its reason and its jobs are reported as not run, not as failures. Variants are built once for
the night before any phone starts. The night's state (`<data>/lab/<night>.json`) names each
phone's run, so `--resume NIGHT` finishes only what is missing. After the night each phone's run is
judged against its history (bench.run.history).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import Config, config_from_dict, read_toml, validate
from bench.devices.inventory import InventoryEntry, load_inventory
from bench.errors import BenchError, ConfigError
from bench.fileio import write_text_atomic
from bench.models.build import BuildOutcome
from bench.paths import data_dir
from bench.plan import plan_jobs
from bench.results.records import JobStatus, Platform
from bench.results.store import Store
from bench.run.devices import inventory_folders
from bench.run.frame_pipeline import build_jobs
from bench.run.health import HealthLimits, health_problems
from bench.run.history import SeriesVerdicts, judge_run
from bench.run.lease import phone_lease
from bench.run.pipeline import Hooks, build_for, execute_run, open_configured

log = logging.getLogger(__name__)

Built = dict[Platform, dict[tuple[str, str], BuildOutcome]]  # the night's variants, per platform
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
    data = read_toml(path, "see the README's lab section for an example")
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
    inventory = load_inventory([*inventory_folders(), path.parent])
    return config, settings, inventory


def config_for(config: Config, settings: LabSettings, entry: InventoryEntry | None) -> Config:
    """The run settings of one phone: [run], then the [[lab.matrix]] entries whose tags it carries."""
    overrides: dict[str, Any] = {}
    for override in settings.matrix:
        if entry is not None and set(override["tags"]) & set(entry.tags):
            overrides |= {k: tuple(v) for k, v in override.items() if k != "tags"}
    return replace(config, run=replace(config.run, **overrides)) if overrides else config


@dataclass(slots=True)
class PhoneNight:
    alias: str
    status: str = "waiting"  # waiting | running | done | quarantined | lost (its lab node went away)
    reasons: list[str] = field(default_factory=list)
    run_id: str | None = None
    ok: int = 0
    failed: int = 0
    not_run: int = 0
    retries: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    verdicts: list[SeriesVerdicts] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "status": self.status, "reasons": self.reasons, "run_id": self.run_id,
                "ok": self.ok, "failed": self.failed, "not_run": self.not_run, "retries": self.retries,
                "wall_s": round(self.wall_s, 2), "regressions": sum(len(v.regressions) for v in self.verdicts),
                "series": [v.to_dict() for v in self.verdicts]}


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
              cache_root: Path, *, resume: str | None = None, ray_address: str | None = None) -> Night:
    """Run the lab's matrix on every phone in parallel; return the night with each phone's outcome and verdicts.

    With `ray_address`, each phone's jobs run on the Ray node that advertises it (bench.run.lab_ray) and
    its results come back to this host's store; without, every phone is driven from this process.
    """
    cluster = None
    if ray_address:
        from bench.run.lab_ray import RayLab

        cluster = RayLab.connect(ray_address)
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
                pool.submit(_phone_night, phone, phone_config, settings, entry, store_path, cache_root, built, save)
    night.wall_s = time.monotonic() - started
    _save(night, lock)
    if cluster is not None:
        cluster.close()
    return night


def _build_once(config: Config, settings: LabSettings, inventory: dict[str, InventoryEntry], aliases: list[str],
                cache_root: Path) -> Built:
    """Every variant any phone of the night needs, built before the phones start (one build, not one per phone)."""
    built: Built = {}
    configs = [config_for(config, settings, inventory.get(a)) for a in aliases]
    for platform in sorted({Platform.IOS if (e := inventory.get(a)) and e.platform == "ios" else Platform.ANDROID
                            for a in aliases}, key=lambda p: p.value):
        jobs = [job for c in configs for job in build_jobs(c, plan_jobs(c, "lab", 1, platform=platform))]
        built[platform] = build_for(config, jobs, cache_root, platform)
    return built


# what a phone's run tells as it goes: ("run", RunRecord) once it is in the store, ("result", JobResult) after
# each job, ("retry", {"job_id", "attempt", "reason"}) before another try
Report = Callable[[str, Any], None]


def measure_phone(phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                  store: Store, cache_root: Path, built: Built, report: Report | None = None) -> None:
    """Open the phone, take its lease, check its health and run its jobs into `store`; record how it went in `phone`.

    Never raises for a phone's trouble: it is the phone's status and reasons.
    """
    def tell(kind: str, payload: Any) -> None:
        if report is not None:
            report(kind, payload)

    try:
        device = open_configured(config, phone.alias, inventory={phone.alias: entry} if entry else None)
        serial = getattr(device, "serial", None) or getattr(device, "udid", phone.alias)
        with phone_lease(str(serial)):
            problems = health_problems(device, settings.health)
            if problems:
                phone.status, phone.reasons = "quarantined", problems
                return
            phone.status = "running"

            def started(run_id: str) -> None:
                phone.run_id = run_id
                tell("run", store.run(run_id))

            def retried(job_id: str, attempt: int, reason: str) -> None:
                phone.retries.append({"job_id": job_id, "attempt": attempt, "reason": reason})
                tell("retry", phone.retries[-1])

            hooks = Hooks(retries=settings.retries, on_retry=retried, stop_after_failures=settings.quarantine_after,
                          on_start=started)
            outcome = execute_run(config, store, cache_root, device_alias=phone.alias, resume=phone.run_id,
                                  hooks=hooks, prebuilt=built, device=device,
                                  on_job=lambda result, *_: tell("result", result))
            phone.status, phone.reasons = ("quarantined", [outcome.stopped]) if outcome.stopped else ("done", [])
    except BenchError as exc:
        phone.status, phone.reasons = "quarantined", [*phone.reasons, str(exc)]
    except Exception as exc:  # a bug in one phone's run must not lose the others' night
        log.exception("%s: unexpected error", phone.alias)
        phone.status, phone.reasons = "quarantined", [*phone.reasons, f"internal error: {exc!r}"]


def conclude(phone: PhoneNight, store: Store, settings: LabSettings) -> None:
    """Count the phone's jobs from the store (done, failed, not run) and judge its run against its history."""
    if phone.run_id is None:
        return
    record = store.run(phone.run_id)
    results = store.job_results(phone.run_id)
    phone.ok = sum(r.status is JobStatus.OK for r in results)
    phone.failed = sum(r.status is JobStatus.FAILED for r in results)
    phone.not_run = len(record.plan) - len(results)
    phone.verdicts = judge_run(store, phone.run_id, window=settings.window)


@contextlib.contextmanager
def phone_session(phone: PhoneNight, save: Callable[[], None]) -> Iterator[None]:
    """Time a phone's night, set the phone aside on a BenchError (its store, say), and save the night after."""
    started = time.monotonic()
    try:
        yield
    except BenchError as exc:
        phone.status, phone.reasons = "quarantined", [*phone.reasons, str(exc)]
    finally:
        phone.wall_s = time.monotonic() - started
        save()


def _phone_night(phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                 store_path: Path, cache_root: Path, built: Built, save: Callable[[], None]) -> None:
    with phone_session(phone, save), Store(store_path) as store:
        measure_phone(phone, config, settings, entry, store, cache_root, built,
                      report=lambda kind, _: save() if kind != "result" else None)
        conclude(phone, store, settings)
