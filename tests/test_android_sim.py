"""Simulated phones speak ADB well enough for the real adb server and adbutils to use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import adbutils
import pytest

from bench.devices.android.sim.lab import AdbServer, SimLab, free_port


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimLab, adbutils.AdbClient]]:
    port = free_port()
    with AdbServer(port), SimLab(tmp_path_factory.mktemp("sim"), count=2) as lab:
        lab.connect(port)
        yield lab, adbutils.AdbClient(host="127.0.0.1", port=port)


def test_two_phones_are_listed_by_the_real_adb_server(lab: tuple[SimLab, adbutils.AdbClient]) -> None:
    sims, client = lab
    listed = {d.serial: d for d in client.device_list()}
    assert set(listed) == {r.serial for r in sims.running}
    device = listed[sims.running[0].serial]
    assert device.prop.model == "Simulated Phone" and device.getprop("ro.product.cpu.abi") == "x86_64"


def test_shell_v2_gives_stdout_stderr_and_the_exit_code(lab: tuple[SimLab, adbutils.AdbClient]) -> None:
    sims, client = lab
    device = client.device(serial=sims.running[0].serial)
    result = device.shell2("echo out; echo err >&2; exit 3", v2=True)
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 3)
    assert device.shell2("false").returncode == 1  # v1, through adbutils' own `echo X4EXIT:$?` marker


def test_push_pull_stat_list_in_the_phones_sandbox(lab: tuple[SimLab, adbutils.AdbClient]) -> None:
    sims, client = lab
    device = client.device(serial=sims.running[1].serial)
    payload = bytes(range(256)) * 4000  # 1 MB: several WRTE messages and DATA chunks
    device.sync.push(payload, "/data/local/tmp/bench/blob.bin")
    assert (sims.phones[1].root / "data/local/tmp/bench/blob.bin").read_bytes() == payload
    assert device.sync.read_bytes("/data/local/tmp/bench/blob.bin") == payload
    assert device.sync.stat("/data/local/tmp/bench/blob.bin").size == len(payload)
    assert [f.path for f in device.sync.list("/data/local/tmp/bench")] == ["blob.bin"]
    assert device.shell("sha256sum /data/local/tmp/bench/blob.bin").split()[0] == \
        __import__("hashlib").sha256(payload).hexdigest()
    assert not (Path("/data/local/tmp/bench/blob.bin")).exists()  # the host's own / was never touched


def test_the_profile_answers_like_a_phone(lab: tuple[SimLab, adbutils.AdbClient]) -> None:
    sims, client = lab
    device = client.device(serial=sims.running[0].serial)
    assert device.shell("cat /sys/class/thermal/thermal_zone0/temp").strip() == "36000"
    assert "level: 87" in device.shell("dumpsys battery")
    assert "Thermal Status: 0" in device.shell("dumpsys thermalservice")
    assert device.shell("cat /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").strip() in ("1800000", "2400000")


@pytest.fixture
def one_phone(tmp_path: Path) -> Iterator[tuple[SimLab, adbutils.AdbDevice]]:
    port = free_port()
    with AdbServer(port), SimLab(tmp_path, count=1) as lab:
        lab.connect(port)
        yield lab, adbutils.AdbClient(host="127.0.0.1", port=port).device(serial=lab.running[0].serial)


def test_fault_slow_link_still_moves_every_byte(tmp_path: Path) -> None:
    port = free_port()
    with AdbServer(port), SimLab(tmp_path, count=1) as lab:
        lab.phones[0].own_faults.max_payload = 1024  # set before adb connects: it is part of the handshake
        lab.connect(port)
        device = adbutils.AdbClient(host="127.0.0.1", port=port).device(serial=lab.running[0].serial)
        payload = b"x" * 100_000
        device.sync.push(payload, "/data/local/tmp/slow.bin")
        assert device.sync.read_bytes("/data/local/tmp/slow.bin") == payload
        assert len(device.shell("head -c 50000 /dev/zero | tr '\\0' a")) == 50000


def test_fault_full_disk_fails_the_push_with_the_phones_reason(one_phone: tuple[SimLab, adbutils.AdbDevice]) -> None:
    lab, device = one_phone
    lab.phones[0].own_faults.disk_free_bytes = 1000
    with pytest.raises(adbutils.AdbError, match="FAIL"):  # adbutils drops the FAIL message's text
        device.sync.push(b"y" * 5000, "/data/local/tmp/big.bin")
    assert not (lab.phones[0].root / "data/local/tmp/big.bin").exists()


def test_fault_hang_leaves_the_host_waiting_until_its_own_timeout(one_phone: tuple[SimLab, adbutils.AdbDevice]) -> None:
    lab, device = one_phone
    lab.phones[0].own_faults.hang_on_command = "benchmark_model"
    with pytest.raises(adbutils.AdbTimeout):
        device.shell("/data/local/tmp/bench/benchmark_model --graph=x", timeout=2)


def test_fault_disconnect_during_push_and_during_a_command(one_phone: tuple[SimLab, adbutils.AdbDevice]) -> None:
    lab, device = one_phone
    lab.phones[0].own_faults.disconnect_on_push_bytes = 10_000
    with pytest.raises((adbutils.AdbError, ConnectionError, OSError)):
        device.sync.push(b"z" * 200_000, "/data/local/tmp/cut.bin")
    assert not (lab.phones[0].root / "data/local/tmp/cut.bin").exists()
