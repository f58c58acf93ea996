"""CPU pinning from the topology of real SoCs (sysfs dumps in ../shared/device-dumps, sources in its README)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bench.devices.android.topology import COMMAND, parse_topology
from bench.plan import default_threads
from bench.results.device_records import CpuTopology, DeviceInfo, Platform
from tests.conftest import SHARED

DUMPS = SHARED / "device-dumps"


def _sysfs(name: str, root: Path) -> CpuTopology:
    """Lay the dump's files out under `root` and run bench's own shell command over them."""
    path = DUMPS / name
    if not path.is_file():
        pytest.skip(f"needs the capture {path} (../shared beside the checkout)")
    for line in path.read_text().splitlines():
        file, sep, value = line.partition(":")
        if sep and file.startswith("/sys/"):
            target = root / file.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(value + "\n")
    out = subprocess.run(["/bin/sh", "-c", COMMAND.replace("/sys/", f"{root}/sys/")], capture_output=True,
                         text=True, check=True).stdout
    topology = parse_topology(out)
    assert topology is not None
    return topology


def test_snapdragon_8_gen_2_one_prime_core_gets_four_threads_on_four_cores(tmp_path: Path) -> None:
    topo = _sysfs("cpufreq-sysfs-snapdragon8gen2-sm8550-with-cpu_capacity.txt", tmp_path)
    assert topo.clusters == [[0, 1, 2], [3, 4, 5, 6], [7]]  # 1+2+2+3: A715 and A710 share capacity 855
    threads = default_threads(topo.fast_cores)
    assert (topo.fast_cores, threads) == (5, 4)
    assert topo.mask(threads) == "f0"  # the prime core and three of the big ones, not the prime core alone ("80")
    assert topo.mask(1) == "80" and topo.mask(8) == "ff" and topo.mask(12) == "ff"


def test_tensor_g3_nine_cpus_4_4_1(tmp_path: Path) -> None:
    topo = _sysfs("cpufreq-sysfs-pixel8-tensor-g3-android14.txt", tmp_path)  # no cpu_capacity: clocks decide
    assert topo.clusters == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert default_threads(topo.fast_cores) == 4 and topo.mask(4) == "1e0"  # cpu8 + cpu5..7
    assert topo.mask(2) == "180"


def test_kirin_980_two_fast_a76_cores_are_not_all_four_threads_get(tmp_path: Path) -> None:
    topo = _sysfs("cpufreq-sysfs-huawei-mate20-kirin980-android9.txt", tmp_path)
    assert topo.clusters == [[0, 1, 2, 3], [4, 5], [6, 7]]
    assert topo.mask(4) == "f0" and topo.mask(2) == "c0"


def test_snapdragon_888_from_per_core_clocks() -> None:
    path = DUMPS / "cpufetch-debug-xiaomi-mi11-sd888-per-core-max-mhz.txt"
    if not path.is_file():
        pytest.skip(f"needs the capture {path}")
    mhz = {int(m.group(1)): int(m.group(2)) * 1000
           for m in re.finditer(r"\[Core (\d+)\] 0x\w+ (\d+) MHz", path.read_text())}
    topo = CpuTopology(max_khz=mhz)
    assert topo.clusters == [[0, 1, 2, 3], [4, 5, 6], [7]]  # 4 + 3 + 1
    assert default_threads(topo.fast_cores) == 4 and topo.mask(4) == "f0"


def test_capacity_ranks_above_clock_and_one_cluster_uses_every_core() -> None:
    # a big core clocked below a little one still ranks first when the kernel gives capacities
    topo = CpuTopology(max_khz={0: 2000000, 1: 2000000, 2: 1900000, 3: 1900000},
                       capacity={0: 400, 1: 400, 2: 1024, 3: 1024})
    assert topo.mask(2) == "c" and topo.fast_cores == 2
    flat = CpuTopology(max_khz={0: 2400000, 1: 2400000})
    assert flat.fast_cores == 2 and flat.mask(4) == "3"


def test_topology_is_stored_with_the_device_and_read_back() -> None:
    topo = CpuTopology(max_khz={0: 1800000, 1: 2400000}, capacity={0: 500, 1: 1024})
    info = DeviceInfo(id="x", platform=Platform.ANDROID, model="m", cores=2, cpu_topology=topo)
    back = DeviceInfo.from_dict(info.to_dict())
    assert back.cpu_topology == topo and back.default_threads_cores == 1
    assert info.to_dict()["cpu_topology"]["clusters"] == [[0], [1]]
    assert DeviceInfo.from_dict({k: v for k, v in info.to_dict().items() if k != "cpu_topology"}).cpu_topology is None


def test_a_phone_that_hides_its_clocks_gives_no_topology() -> None:
    assert parse_topology("0  \n1  \n") is None
