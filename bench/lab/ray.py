"""A lab night over a Ray cluster: each phone's jobs run on the lab host it is plugged into.

Every lab host runs `python -m bench lab node --ray ADDRESS`, a Ray node that advertises each of its
phones as a custom resource `phone:<alias>` of one unit. The orchestrator (`bench lab run --ray
ADDRESS`) builds the night's variants once, puts them in Ray's object store, and starts one task per
phone that asks for that phone's unit: Ray places it on the node that owns the phone, and the unit
keeps a second lab run off the phone. The task runs the phone's jobs as `bench lab run` does on one
host (lease, health, retries, quarantine; bench.lab.phone.measure_phone) into a scratch store on the
node and streams every result back as it is measured (a Ray generator task); the orchestrator
commits each to its own store at once. A node that dies mid-night loses only the job it was
running: what it sent is stored, the rest of its phones' plans are "not run", and
`--resume NIGHT` finishes them once the node is back.

Ray is imported only here and only when asked for (the `lab` extra).
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.devices.inventory import InventoryEntry
from bench.errors import BenchError, ConfigError, DeviceError
from bench.lab.phone import PhoneNight, conclude, measure_phone, phone_session
from bench.lab.settings import LabSettings
from bench.models.build import BuildOutcome
from bench.paths import cache_dir
from bench.results.records import JobResult
from bench.results.store import RunRecord, Store
from bench.run.builds import BuildsByPlatform

log = logging.getLogger(__name__)

RESOURCE_PREFIX = "phone:"
LIVENESS_S = 5.0  # how often a phone's waiting task checks that its node is still in the cluster

# a variant as shipped: its build outcome and its file (or .mlpackage folder, as a tar) in the object store
Shipped = dict[Any, dict[tuple[str, str], tuple[BuildOutcome, Any]]]


def phone_resource(alias: str) -> str:
    return RESOURCE_PREFIX + alias


class RayLab:
    """The orchestrator's side: the cluster it joined and the night's variants in its object store."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._shipped: Shipped | None = None
        self._ship_lock = threading.Lock()

    @classmethod
    def connect(cls, address: str) -> RayLab:
        """Join the running cluster at `address` as its driver."""
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("--ray needs Ray on this host: pip install 'ondevice-bench[lab]'") from exc
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                     namespace="bench-lab")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise DeviceError(f"no Ray cluster at {address} ({exc}); start its head with `ray start --head` (or "
                              "`python -m bench lab node --head`), then `python -m bench lab node --ray ADDRESS` "
                              "on each lab host") from exc
        return cls(address)

    def phones(self) -> list[str]:
        """The phones the cluster's live nodes advertise."""

        return sorted(_advertised())

    def close(self) -> None:
        import ray

        ray.shutdown()

    def _ship(self, built: BuildsByPlatform) -> Shipped:
        """Put each built variant's file in the object store once for the night (not once per phone)."""
        import ray

        with self._ship_lock:
            if self._shipped is None:
                self._shipped = {platform: {key: (outcome, ray.put(_pack(outcome.path)) if outcome.path else None)
                                            for key, outcome in outcomes.items()}
                                 for platform, outcomes in built.items()}
            return self._shipped

    def phone_night(self, phone: PhoneNight, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                    store_path: Path, built: BuildsByPlatform, save: Callable[[], None]) -> None:
        """Run one phone's jobs on its node; commit each result here as it arrives."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        with phone_session(phone, save), Store(store_path) as store:
            if phone.alias not in _advertised():
                phone.status = "quarantined"
                phone.reasons = [f"no lab node advertises {phone.alias}: run `python -m bench lab node --ray "
                                 f"{self.address}` on the host it is plugged into"]
                return
            seed = _seed(store, phone.run_id)
            task = ray.remote(phone_events).options(
                resources={phone_resource(phone.alias): 1}, num_cpus=0, max_retries=0,
                name=f"bench-lab-{phone.alias}",
            ).remote(phone.alias, config, settings, entry, seed, self._ship(built))
            try:
                for kind, payload in _events(task, phone.alias):
                    _take(kind, payload, phone, store)
                    if kind != "result":
                        save()
            except RayTaskError as exc:  # our code on the node raised past measure_phone: a bug, not the link
                phone.status, phone.reasons = "quarantined", [*phone.reasons, f"internal error on its node: {exc}"]
            except (RayError, _NodeLeft) as exc:
                phone.status = "lost"
                phone.reasons = [*phone.reasons, f"its lab node went away mid-night ({_short(exc)}); what it had "
                                 "not finished is not run: restart `python -m bench lab node` on its host, then "
                                 "resume the night"]
            conclude(phone, store, settings)


def _advertised() -> set[str]:
    """The phones the cluster's live nodes advertise (a dead node's resources leave the total)."""
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return {k.removeprefix(RESOURCE_PREFIX) for k in resources if k.startswith(RESOURCE_PREFIX)}


class _NodeLeft(Exception):
    pass


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}" if str(exc) else type(exc).__name__


def _events(task: Any, alias: str) -> Iterator[tuple[str, Any]]:
    """The events a phone's task yields, as they come; _NodeLeft when its node left the cluster meanwhile."""
    import ray

    while True:
        ready, _ = ray.wait([task], timeout=LIVENESS_S)
        if not ready:
            if alias not in _advertised():
                with contextlib.suppress(Exception):  # its node is gone: nothing may be left to cancel
                    ray.cancel(task, force=True)
                raise _NodeLeft(f"the node advertising {alias} left the cluster")
            continue
        try:
            ref = next(task)
        except StopIteration:
            return
        kind, payload = ray.get(ref)
        yield kind, payload


def _take(kind: str, payload: Any, phone: PhoneNight, store: Store) -> None:
    """Fold one event of a phone's task into this host's store and the phone's night."""
    if kind == "run":
        record: RunRecord = payload
        phone.run_id, phone.status = record.run_id, "running"
        if not store.has_run(record.run_id):
            store.create_run(run_id=record.run_id, device=record.device, plan=record.plan, config=record.config,
                             bench_version=record.bench_version)
    elif kind == "result":
        result: JobResult = payload
        if phone.run_id is not None and result.job_id not in store.done_job_ids(phone.run_id):
            store.save_job(phone.run_id, result)
    elif kind == "retry":
        phone.retries.append(payload)
    elif kind == "end":
        phone.status, phone.reasons = payload


def _seed(store: Store, run_id: str | None) -> tuple[RunRecord, list[JobResult]] | None:
    """What this host's store already holds of a resumed run, for the node's scratch store."""
    if run_id is None or not store.has_run(run_id):
        return None
    return store.run(run_id), store.job_results(run_id)


def phone_events(alias: str, config: Config, settings: LabSettings, entry: InventoryEntry | None,
                 seed: tuple[RunRecord, list[JobResult]] | None, shipped: Shipped) -> Iterator[tuple[str, Any]]:
    """On the phone's node: run its jobs and yield ("run" | "result" | "retry" | "end", payload) as they happen."""
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()

    def work() -> None:
        phone = PhoneNight(alias=alias, run_id=seed[0].run_id if seed else None)
        try:
            with tempfile.TemporaryDirectory(prefix="bench-lab-") as scratch, \
                    Store(Path(scratch) / "phone.sqlite") as store:
                if seed is not None:
                    record, results = seed
                    store.create_run(run_id=record.run_id, device=record.device, plan=record.plan,
                                     config=record.config, bench_version=record.bench_version)
                    for result in results:
                        store.save_job(record.run_id, result)
                measure_phone(phone, config, settings, entry, store, cache_dir(), _unpack(shipped),
                              report=lambda kind, payload: events.put((kind, payload)))
        except BenchError as exc:
            phone.status, phone.reasons = "quarantined", [*phone.reasons, str(exc)]
        finally:
            events.put(("end", (phone.status, phone.reasons)))
            events.put(None)

    threading.Thread(target=work, name=f"lab-{alias}", daemon=True).start()
    while (event := events.get()) is not None:
        yield event


def _pack(path: Path) -> tuple[bool, bytes]:
    """A variant as (is a folder, bytes): the file itself, or a tar of a folder (a Core ML .mlpackage)."""
    if path.is_file():
        return False, path.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(path, arcname=path.name)
    return True, buffer.getvalue()


def _unpack(shipped: Shipped) -> BuildsByPlatform:
    """Write the shipped variants into this node's cache (once per content), with their local paths."""
    import ray

    built: BuildsByPlatform = {}
    for platform, outcomes in shipped.items():
        built[platform] = {}
        for key, (outcome, ref) in outcomes.items():
            if ref is None or outcome.path is None or outcome.manifest is None:
                built[platform][key] = outcome
                continue
            folder = cache_dir() / "lab" / "shipped" / outcome.manifest.sha256[:16]
            local = folder / outcome.path.name
            if not local.exists():
                _write(folder, outcome.path.name, *ray.get(ref))
            built[platform][key] = replace(outcome, path=local)
    return built


def _write(folder: Path, name: str, is_folder: bool, data: bytes) -> None:
    """Place a shipped variant atomically: unpacked beside, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        staged = Path(scratch) / name
        if is_folder:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(scratch, filter="data")
        else:
            staged.write_bytes(data)
        try:
            staged.rename(folder / name)
        except OSError:
            if not (folder / name).exists():  # else another phone's task on this node placed it first
                raise
