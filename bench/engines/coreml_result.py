"""Read the result file the iOS runner app (devices/ios/BenchRunner) writes for each job.

`Documents/results/<job file>.json`, format `bench-runner-result/1`:

    {"format": "bench-runner-result/1", "job_id": "iphone/efficientnet_lite0/fp16/all/t1",
     "status": "ok", "error": null,
     "model": "models/<sha256>.mlpackage", "compute_units": "all",
     "runner": {"version": "1.0", "build": "1", "os": "iOS 17.4.1", "machine": "iPhone15,2"},
     "compile_ms": 812.4, "load_ms": 95.1, "first_prediction_ms": 14.2,
     "warmup_ms": [13.9, 4.1], "latencies_ms": [4.02, 3.98, ...],
     "thermal_state_before": "nominal", "thermal_state_after": "fair",
     "phys_footprint_mb": {"compile_peak": 140.8, "load_peak": 88.0, "after_load": 61.2,
                           "predict_peak": 63.9, "peak": 140.8},
     "input": {"name": "pixels", "shape": [1, 224, 224, 3], "dtype": "float32"},
     "compute_plan": {"cpu": 3, "gpu": 0, "neuralEngine": 61},
     "accuracy": {"images": 500, "top5": [[65, 62, 58, 60, 61], ...]}}

Times are milliseconds from `DispatchTime` around `MLModel.compileModel(at:)`, `MLModel(contentsOf:
configuration:)` and each `prediction(from:)`; the footprint is the app's own `task_vm_info`
(`phys_footprint`, what iOS counts against the app's memory limit): the highest while compiling, while
loading and during the timed predictions (each phase sampled every 5 ms by the app), after loading, and
the lifetime peak (`ledger_phys_footprint_peak`: all three phases; older runner builds give only this
and `after_load`). Memory the Neural Engine or GPU holds outside the app's process is in none of them.
Thermal states are `ProcessInfo.thermalState`, "unknown" for a state newer than the runner build;
`runner.os` is "iOS 17.4.1" (older builds wrote "iOS Version 17.4.1 (Build 21E236)", read as the same).
`compute_plan` counts the operations `MLComputePlan` (iOS 17.4+, runner built with Xcode 15.3+) gives each
compute device; where there is none, `compute_plan_unavailable` says why. `accuracy` is present for accuracy jobs.
A file that is not this format raises ResultFormatError naming what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bench.errors import ResultFormatError
from bench.results.device_records import COMPUTE_UNITS

FORMAT = "bench-runner-result/1"
THERMAL_STATES = ("nominal", "fair", "serious", "critical", "unknown")
_OLD_OS = re.compile(r"^iOS Version (\d+(?:\.\d+)*) \(Build (\w+)\)$")  # operatingSystemVersionString


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerResult:
    job_id: str
    status: str  # ok | failed
    error: str | None
    compute_units: str
    runner: dict[str, str]
    compile_ms: float | None
    load_ms: float | None
    first_prediction_ms: float | None
    warmup_ms: tuple[float, ...]
    latencies_ms: tuple[float, ...]
    thermal_state_before: str | None
    thermal_state_after: str | None
    footprint_after_load_mb: float | None
    footprint_peak_mb: float | None  # lifetime
    footprint_compile_peak_mb: float | None
    footprint_load_peak_mb: float | None
    footprint_predict_peak_mb: float | None
    compute_plan_unavailable: str | None
    input_shape: tuple[int, ...]
    compute_plan: dict[str, int] | None
    top5: tuple[tuple[int, ...], ...] | None


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ResultFormatError(f"runner result: {key} must be a non-negative number, got {value!r}")
    return float(value)


def _times(data: dict[str, Any], key: str) -> tuple[float, ...]:
    values = data.get(key) or []
    if not isinstance(values, list):
        raise ResultFormatError(f"runner result: {key} must be a list of milliseconds")
    return tuple(_number({key: v}, key) or 0.0 for v in values)


def read_runner_result(text: str) -> RunnerResult:
    """Parse one result file; raise ResultFormatError when it is not a runner result."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFormatError(f"runner result is not JSON ({exc.msg} at line {exc.lineno}); was the app killed "
                                "while writing it?") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ResultFormatError(f"runner result has format {found!r}, not {FORMAT!r}: rebuild BenchRunner from "
                                "devices/ios/BenchRunner to match this bench")
    status = data.get("status")
    if status not in ("ok", "failed"):
        raise ResultFormatError(f"runner result status must be ok or failed, got {status!r}")
    units = data.get("compute_units")
    if units not in COMPUTE_UNITS:
        raise ResultFormatError(f"runner result compute_units {units!r} is not one of "
                                f"{', '.join(u.value for u in COMPUTE_UNITS)}")
    latencies = _times(data, "latencies_ms")
    if status == "ok" and not latencies:
        raise ResultFormatError("runner result says ok but has no latencies_ms")
    thermal = [data.get(k) for k in ("thermal_state_before", "thermal_state_after")]
    if any(t is not None and t not in THERMAL_STATES for t in thermal):
        raise ResultFormatError(f"runner result thermal states {thermal} are not among {', '.join(THERMAL_STATES)}")
    footprint = data.get("phys_footprint_mb") or {}
    top5 = None
    if (accuracy := data.get("accuracy")) is not None:
        rows = accuracy.get("top5") if isinstance(accuracy, dict) else None
        if not isinstance(rows, list) or any(not isinstance(r, list) or not all(isinstance(c, int) for c in r)
                                             for r in rows):
            raise ResultFormatError("runner result accuracy.top5 must be a list of class-index lists")
        if accuracy.get("images") != len(rows):
            raise ResultFormatError(f"runner result accuracy says {accuracy.get('images')} images but has "
                                    f"{len(rows)} rows")
        top5 = tuple(tuple(r) for r in rows)
    shape = (data.get("input") or {}).get("shape") or []
    plan = data.get("compute_plan")
    if plan is not None and (not isinstance(plan, dict) or not all(isinstance(v, int) for v in plan.values())):
        raise ResultFormatError("runner result compute_plan must map compute devices to operation counts")
    runner = {k: str(v) for k, v in (data.get("runner") or {}).items()}
    if old_os := _OLD_OS.match(runner.get("os", "")):
        runner["os"] = f"iOS {old_os.group(1)}"
        runner.setdefault("os_build", old_os.group(2))
    unavailable = data.get("compute_plan_unavailable")
    return RunnerResult(
        job_id=str(data.get("job_id", "")), status=status, error=data.get("error"), compute_units=units,
        runner=runner,
        compile_ms=_number(data, "compile_ms"), load_ms=_number(data, "load_ms"),
        first_prediction_ms=_number(data, "first_prediction_ms"), warmup_ms=_times(data, "warmup_ms"),
        latencies_ms=latencies, thermal_state_before=thermal[0], thermal_state_after=thermal[1],
        footprint_after_load_mb=_number(footprint, "after_load"), footprint_peak_mb=_number(footprint, "peak"),
        footprint_compile_peak_mb=_number(footprint, "compile_peak"),
        footprint_load_peak_mb=_number(footprint, "load_peak"),
        footprint_predict_peak_mb=_number(footprint, "predict_peak"),
        compute_plan_unavailable=str(unavailable) if unavailable else None,
        input_shape=tuple(int(d) for d in shape), compute_plan=plan, top5=top5,
    )
