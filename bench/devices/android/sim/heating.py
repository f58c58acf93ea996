"""A simulated phone that heats while it computes and slows down once hot, as a real one throttles.

Set with the `heating` fault (`set_faults(root, heating={...})`):

    {"rise_c_per_s": 0.5,        # temperature gained per second of inference
     "throttle_above_c": 42.0,   # from here on each inference takes `slowdown` times as long
     "slowdown": 2.0}

The phone's tool (`bench-benchmark-model`, with SIM_ROOT set) calls `Heating.after` after each
inference; the temperature is kept in the sandbox (`.sim/heat.json`), so it carries over from one
launch of the tool to the next, and is published where the phone reports it (thermal zones,
`dumpsys thermalservice`, `dumpsys battery`): bench reads it back over ADB as from a real phone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.devices.android.sim.profiles import set_temperature

PUBLISH_EVERY_S = 0.5


class Heating:
    def __init__(self, root: Path, rise_c_per_s: float, throttle_above_c: float, slowdown: float) -> None:
        self.root, self.rise, self.limit, self.slowdown = root, rise_c_per_s, throttle_above_c, slowdown
        self.state = root / ".sim" / "heat.json"
        try:
            self.temp_c = float(json.loads(self.state.read_text())["temp_c"])
        except (OSError, ValueError, KeyError):
            zone = (root / "sys/class/thermal/thermal_zone0/temp").read_text()
            self.temp_c = int(zone) / 1000.0
        self.published = 0.0

    @classmethod
    def from_faults(cls, root: Path, faults: dict[str, Any]) -> Heating | None:
        spec = faults.get("heating")
        if not spec:
            return None
        return cls(root, float(spec.get("rise_c_per_s", 0.5)), float(spec.get("throttle_above_c", 42.0)),
                   float(spec.get("slowdown", 2.0)))

    def after(self, busy_s: float) -> None:
        """One inference took `busy_s`: slow it down if hot, then heat by the time it took."""
        if self.temp_c > self.limit:
            extra = busy_s * (self.slowdown - 1.0)
            time.sleep(extra)
            busy_s += extra
        self.temp_c += self.rise * busy_s
        if time.monotonic() - self.published > PUBLISH_EVERY_S:
            self.publish()

    def publish(self) -> None:
        self.published = time.monotonic()
        self.state.write_text(json.dumps({"temp_c": self.temp_c}))
        set_temperature(self.root, self.temp_c)
