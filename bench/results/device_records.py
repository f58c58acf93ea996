"""Device records: what a device is, the state it was measured in, and what runs a model on it.

Like every record, these import nothing else from bench; `bench.results.records` builds on them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class Platform(enum.Enum):
    LOCAL = "local"
    ANDROID = "android"
    IOS = "ios"


class Accelerator(enum.StrEnum):
    """What runs a model: a TFLite delegate (the host, Android phones) or Core ML's compute units (iPhones).
    Jobs and results keep it as its string; the members compare equal to it."""

    XNNPACK = "xnnpack"
    NONE = "none"  # TFLite's plain CPU kernels
    GPU = "gpu"
    NNAPI = "nnapi"
    ALL = "all"  # Core ML's own choice of CPU, GPU and Neural Engine
    CPU_ONLY = "cpuOnly"
    CPU_AND_GPU = "cpuAndGPU"
    CPU_AND_NEURAL_ENGINE = "cpuAndNeuralEngine"


TFLITE_ACCELERATORS = (Accelerator.XNNPACK, Accelerator.NONE, Accelerator.GPU, Accelerator.NNAPI)
HOST_ACCELERATORS = (Accelerator.XNNPACK, Accelerator.NONE)
COMPUTE_UNITS = (Accelerator.ALL, Accelerator.CPU_ONLY, Accelerator.CPU_AND_GPU, Accelerator.CPU_AND_NEURAL_ENGINE)


def _hex_mask(cpus: Iterable[int]) -> str:
    return format(sum(1 << cpu for cpu in cpus), "x")


@dataclass(frozen=True, slots=True)
class CpuTopology:
    """A phone's CPUs: each one's highest clock (kHz) and, where the kernel gives it, its `cpu_capacity`
    (the scheduler's relative speed, 1024 for the fastest). Clusters are CPUs of equal speed."""

    max_khz: dict[int, int]
    capacity: dict[int, int] = field(default_factory=dict)

    def speed(self, cpu: int) -> tuple[int, int]:
        # capacity first: it ranks a big core clocked lower above a little one clocked higher
        return (self.capacity.get(cpu, 0) if len(self.capacity) == len(self.max_khz) else 0, self.max_khz[cpu])

    @property
    def clusters(self) -> list[list[int]]:
        """CPUs grouped by speed, slowest group first."""
        groups: dict[tuple[int, int], list[int]] = {}
        for cpu in sorted(self.max_khz):
            groups.setdefault(self.speed(cpu), []).append(cpu)
        return [groups[key] for key in sorted(groups)]

    @property
    def fast_cores(self) -> int:
        """CPUs outside the slowest cluster (all of them on a phone with one cluster)."""
        clusters = self.clusters
        return len(self.max_khz) - (len(clusters[0]) if len(clusters) > 1 else 0)

    def fastest(self, count: int) -> list[int]:
        """The `count` fastest CPUs (all of them when asked for more), the fastest first."""
        ranked = sorted(self.max_khz, key=lambda cpu: (self.speed(cpu), cpu), reverse=True)
        return ranked[:max(1, count)]

    def mask(self, threads: int) -> str:
        """taskset's hex mask of one CPU per thread, the fastest ones: never fewer CPUs than threads
        (unless the phone has fewer)."""
        return _hex_mask(self.fastest(threads))

    def spare_mask(self, threads: int) -> str | None:
        """taskset's mask of the CPUs `mask(threads)` leaves out; None when it takes them all."""
        spare = set(self.max_khz) - set(self.fastest(threads))
        return _hex_mask(spare) if spare else None

    def to_dict(self) -> dict[str, Any]:
        return {"max_khz": {str(k): v for k, v in sorted(self.max_khz.items())},
                "capacity": {str(k): v for k, v in sorted(self.capacity.items())},
                "clusters": self.clusters}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CpuTopology:
        return cls(max_khz={int(k): int(v) for k, v in (data.get("max_khz") or {}).items()},
                   capacity={int(k): int(v) for k, v in (data.get("capacity") or {}).items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class Capability:
    """One thing a device offers bench (or lacks), as probed: what bench does without it, and the fix."""

    name: str  # "taskset", "benchmark_model", "thermal: HAL current", ...
    ok: bool
    detail: str = ""  # what was found: "mask f0 for 4 threads", "82 flags, --output_filepath"
    consequence: str = ""  # when missing: what bench does instead, and what that costs the numbers
    fix: str = ""  # when missing: the next step, where there is one
    blocks_run: bool = False  # missing, nothing can be measured

    @property
    def line(self) -> str:
        """One line: what was found, or what is missing, what bench does instead and the fix."""
        if self.ok:
            return f"{self.name}: {self.detail}"
        return f"{self.name}: {self.detail}; {self.consequence}" + (f"; fix: {self.fix}" if self.fix else "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "consequence": self.consequence,
                "fix": self.fix, "blocks_run": self.blocks_run}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capability:
        return cls(name=data["name"], ok=bool(data["ok"]), detail=data.get("detail", ""),
                   consequence=data.get("consequence", ""), fix=data.get("fix", ""),
                   blocks_run=bool(data.get("blocks_run", False)))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    id: str
    platform: Platform
    model: str
    soc: str | None = None
    os: str | None = None
    abi: str | None = None
    cores: int | None = None
    build: str | None = None
    simulated: bool = False
    cpu_topology: CpuTopology | None = None  # where the device lets it be read (Android)
    capabilities: tuple[Capability, ...] = ()  # what the device offers bench, probed before the run (Android)

    @property
    def default_threads_cores(self) -> int | None:
        """The cores a default thread count is taken from: those outside the slowest cluster, where known."""
        return self.cpu_topology.fast_cores if self.cpu_topology and self.cpu_topology.max_khz else self.cores

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "platform": self.platform.value, "model": self.model, "soc": self.soc,
                               "os": self.os, "abi": self.abi, "cores": self.cores, "build": self.build,
                               "simulated": self.simulated}
        out |= {"cpu_topology": self.cpu_topology.to_dict()} if self.cpu_topology else {}
        return out | ({"capabilities": [c.to_dict() for c in self.capabilities]} if self.capabilities else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        return cls(id=data["id"], platform=Platform(data["platform"]), model=data["model"], soc=data.get("soc"),
                   os=data.get("os"), abi=data.get("abi"), cores=data.get("cores"), build=data.get("build"),
                   simulated=bool(data.get("simulated", False)),
                   cpu_topology=CpuTopology.from_dict(data["cpu_topology"]) if data.get("cpu_topology") else None,
                   capabilities=tuple(Capability.from_dict(c) for c in data.get("capabilities") or ()))


# thermal statuses at which the OS slows the device down: Android's thermal service (severe and up),
# iOS's ProcessInfo.thermalState (serious, critical)
THROTTLING_STATUSES = frozenset({"severe", "critical", "emergency", "shutdown", "serious"})


def is_throttling(thermal_status: str | None) -> bool:
    return thermal_status in THROTTLING_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceState:
    """A snapshot of what affects speed: heat, clocks, load, power. None where unreadable."""

    captured_at: str  # ISO 8601, UTC
    temperatures_c: dict[str, float] = field(default_factory=dict)
    thermal_status: str | None = None
    battery_percent: float | None = None
    charging: bool | None = None
    governor: str | None = None
    cpu_freq_khz: dict[str, int] = field(default_factory=dict)
    load_average_1m: float | None = None
    screen_on: bool | None = None
    fixed_performance: bool | None = None  # Android's fixed performance mode: on, failed to turn on, not asked

    @property
    def hottest_c(self) -> float | None:
        """The hottest CPU reading (zones whose name says cpu), else the hottest of any."""
        cpu = [v for k, v in self.temperatures_c.items() if "cpu" in k.lower()]
        values = cpu or list(self.temperatures_c.values())
        return max(values) if values else None

    @property
    def throttling(self) -> bool:
        """The OS said it was slowing the device down for heat."""
        return is_throttling(self.thermal_status)

    def to_dict(self) -> dict[str, Any]:
        return {"fixed_performance": self.fixed_performance, "captured_at": self.captured_at,
                "temperatures_c": dict(self.temperatures_c),
                "thermal_status": self.thermal_status, "battery_percent": self.battery_percent,
                "charging": self.charging, "governor": self.governor, "cpu_freq_khz": dict(self.cpu_freq_khz),
                "load_average_1m": self.load_average_1m, "screen_on": self.screen_on}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceState:
        return cls(captured_at=data["captured_at"], temperatures_c=dict(data.get("temperatures_c") or {}),
                   thermal_status=data.get("thermal_status"), battery_percent=data.get("battery_percent"),
                   charging=data.get("charging"), governor=data.get("governor"),
                   cpu_freq_khz=dict(data.get("cpu_freq_khz") or {}), load_average_1m=data.get("load_average_1m"),
                   screen_on=data.get("screen_on"), fixed_performance=data.get("fixed_performance"))
