"""The cool-down gate waits for the phone, not for a fixed time, and says when it gave up."""

from __future__ import annotations

from bench.results.device_records import DeviceState
from bench.run.thermal import wait_until_cool


class CoolingPhone:
    """Cools 2 °C per snapshot from `start`; time is simulated."""

    alias = "fake"

    def __init__(self, start: float) -> None:
        self.temp = start

    def snapshot(self) -> DeviceState:
        state = DeviceState(captured_at="now", temperatures_c={"cpu-thermal": self.temp, "battery": 30.0})
        self.temp -= 2.0
        return state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def time(self) -> float:
        return self.now


def test_waits_until_below_the_threshold_and_records_how_long() -> None:
    clock = Clock()
    result, _ = wait_until_cool(CoolingPhone(45.0), below_c=40.0, timeout_s=300, poll_s=5,  # type: ignore[arg-type]
                             sleep=clock.sleep, clock=clock.time)
    assert result.reached and result.start_temp_c == 45.0 and result.end_temp_c == 39.0
    assert result.waited_s == 15.0  # 45 -> 43 -> 41 -> 39: three polls of 5 s


def test_a_cool_phone_does_not_wait() -> None:
    clock = Clock()
    result, _ = wait_until_cool(CoolingPhone(35.0), below_c=40.0, timeout_s=300,  # type: ignore[arg-type]
                             sleep=clock.sleep, clock=clock.time)
    assert result.reached and result.waited_s == 0.0


def test_gives_up_at_the_timeout_and_says_it_did_not_cool() -> None:
    clock = Clock()
    result, _ = wait_until_cool(CoolingPhone(80.0), below_c=40.0, timeout_s=12, poll_s=5,  # type: ignore[arg-type]
                             sleep=clock.sleep, clock=clock.time)
    assert not result.reached and result.waited_s == 12.0 and result.end_temp_c == 74.0


def test_hottest_prefers_cpu_zones() -> None:
    assert DeviceState(captured_at="x", temperatures_c={"cpu0": 40.0, "battery": 50.0}).hottest_c == 40.0
    assert DeviceState(captured_at="x", temperatures_c={"skin": 33.0}).hottest_c == 33.0
    assert DeviceState(captured_at="x").hottest_c is None


def test_heat_warnings_name_throttling_heating_and_a_gate_that_gave_up() -> None:
    from bench.results.records import CooldownWait
    from bench.run.thermal import heat_warnings

    before = DeviceState(captured_at="a", temperatures_c={"cpu-0": 40.0})
    after = DeviceState(captured_at="b", temperatures_c={"cpu-0": 47.0}, thermal_status="severe")
    waited = CooldownWait(below_c=45.0, waited_s=300.0, start_temp_c=50.0, end_temp_c=48.0, reached=False)
    warnings = heat_warnings(before, after, waited)
    assert [w.split(":")[0] for w in warnings] == ["the device heated by 7.0 °C during the job",
                                                   "the device's thermal status was severe after the job",
                                                   "the device was still at 48.0 °C after waiting 300 s to cool "
                                                   "below 45 °C"]
    # a sustained job measures its own heating: only the OS's word and the gate remain warnings
    assert len(heat_warnings(before, after, waited, heat_is_measured=True)) == 2


def test_one_definition_of_throttling_for_android_and_ios() -> None:
    states = {s: DeviceState(captured_at="t", thermal_status=s).throttling
              for s in ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown", "nominal", "fair",
                        "serious", None)}
    assert {s for s, throttling in states.items() if throttling} == {"severe", "critical", "emergency", "shutdown",
                                                                     "serious"}
