"""Device records: what a device is, the state it was measured in, and what runs a model on it.

Like every record, these import nothing else from bench; `bench.results.records` builds on them.
"""

from __future__ import annotations

import enum
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

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform.value, "model": self.model, "soc": self.soc, "os": self.os,
                "abi": self.abi, "cores": self.cores, "build": self.build, "simulated": self.simulated}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        return cls(id=data["id"], platform=Platform(data["platform"]), model=data["model"], soc=data.get("soc"),
                   os=data.get("os"), abi=data.get("abi"), cores=data.get("cores"), build=data.get("build"),
                   simulated=bool(data.get("simulated", False)))


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
