"""Temperatures as real phones print them (captures in ../shared/device-dumps, each named in its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.devices.android.state import SEPARATOR, parse_state
from bench.devices.android.thermal import hal_temperatures, zone_celsius, zone_temperatures
from tests.conftest import SHARED

DUMPS = SHARED / "device-dumps"


def _capture(name: str) -> str:
    path = DUMPS / name
    if not path.is_file():
        pytest.skip(f"needs the capture {path} (../shared beside the checkout)")
    return path.read_text()


def test_current_hal_list_not_the_stale_cached_one_pixel3a() -> None:
    # cached cpu1-silver-usr says 44.800003, battery 30.0; the HAL's current list 44.1 and 28.0
    temps = hal_temperatures(_capture("thermalservice-pixel3a-sargo-android10-cached-vs-current.txt"))
    assert temps is not None
    assert temps["cpu1-silver-usr (cpu, HAL)"] == pytest.approx(44.1)
    assert temps["battery (battery, HAL)"] == pytest.approx(28.000002)
    assert temps["mb-therm-monitor (skin, HAL)"] == pytest.approx(30.147001)
    assert len(temps) == 13 and not any("cpufreq" in k or "CoolingDevice" in k for k in temps)


def test_cached_values_20c_hotter_are_not_read_pixel3() -> None:
    # cached 54-57 °C, current 30-32 °C: a cool-down gate reading the cache would wait for nothing
    temps = hal_temperatures(_capture("thermalservice-pixel3-sd845-cached-vs-current-coolingdevices.txt"))
    assert temps is not None and max(v for k, v in temps.items() if "(cpu," in k) < 40


def test_samsung_absent_sensors_and_aidl_hal() -> None:
    temps = hal_temperatures(_capture("thermalservice-samsung-aidl-cached-vs-current-thresholds.txt"))
    assert temps == {"AP (cpu, HAL)": 34.6, "BAT (battery, HAL)": 25.2, "PA (power amplifier, HAL)": 30.0,
                     "SKIN (skin, HAL)": 28.2, "USB (usb, HAL)": 25.8}  # SUBBAT's 0.0 is a sensor it lacks
    a52 = hal_temperatures(_capture("thermalservice-galaxy-a52-5g-android12-samsung-hal2.txt"))
    assert a52 is not None and "USB (usb, HAL)" not in a52 and a52["AP (cpu, HAL)"] == 25.6


def test_battery_voltage_and_percentage_sensors_are_not_temperatures_qti() -> None:
    temps = hal_temperatures(_capture("thermalservice-qti-nsp-socd-vbat-thresholds.txt"))
    assert temps is not None
    assert not any(k.startswith(("vbat", "socd")) for k in temps)
    assert temps["nsp1 (npu, HAL)"] == 34.7 and temps["CPU0 (cpu, HAL)"] == 36.2


def test_moderate_status_and_current_battery_reading() -> None:
    dump = _capture("thermalservice-status2-moderate-cooling-active-hal2.txt")
    state = parse_state(f"{SEPARATOR}thermal\n{dump}")
    assert state.thermal_status == "moderate"
    assert state.temperatures_c["battery (battery, HAL)"] == pytest.approx(43.8)  # cached said 25.0


def test_hal_not_ready_falls_back_to_thermal_zones() -> None:
    # AOSP's ThermalManagerService.dump() stops after `HAL Ready: false`; no real capture of it is stored
    dump = "IsStatusOverride: false\nThermal Status: 0\nCached temperatures:\n" \
           "\tTemperature{mValue=71.0, mType=0, mName=cpu0, mStatus=0}\nHAL Ready: false\n"
    assert hal_temperatures(dump) is None
    state = parse_state(f"{SEPARATOR}thermal\n{dump}{SEPARATOR}zones\ncpu-0-0-usr 41200\nbattery 30100\n")
    assert state.temperatures_c == {"cpu-0-0-usr": 41.2, "battery": 30.1} and state.hottest_c == 41.2


def test_zones_in_mixed_units_msm8953() -> None:
    text = _capture("thermal-zones-msm8953-sd625-type-temp-mixed-units-negative.txt")
    temps_block = text.split("# cat */temp\n", 1)[1].split("msm8953_64", 1)[0].split()
    readings = [zone_celsius(int(v)) for v in temps_block if v.lstrip("-").isdigit()]
    assert all(-45 < r < 40 for r in readings), readings  # 25000 m°C, 309 tenths, 30 °C, -40 absent
    assert zone_celsius(25000) == 25.0 and zone_celsius(309) == 30.9 and zone_celsius(30) == 30.0
    assert zone_temperatures("pa_therm1 -40\ntsens_tz_sensor5 309\n") == {"tsens_tz_sensor5": 30.9}


def test_unreadable_zone_lines_are_left_out(tmp_path: Path) -> None:
    assert zone_temperatures("cpu-thermal \nbattery cat: temp: Permission denied\ngpu 45000\n") == {"gpu": 45.0}
