"""`bench devices --check` and the probe before every run: what a phone offers bench, found on the phone
(simulated phones serving real captures, ../shared/device-dumps), and what bench does where it lacks it."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import Config
from bench.devices.android.backend import AndroidDevice
from bench.devices.android.capabilities import phone_capabilities, usage_flags
from bench.devices.android.sim.lab import SimLab
from bench.devices.android.sim.profiles import remove_command
from bench.devices.android.state import SEPARATOR
from bench.devices.android.tools import ELF_MACHINE
from bench.errors import DeviceError
from bench.results.device_records import CpuTopology
from bench.run.stages import open_and_preflight
from tests.conftest import SHARED
from tests.simfixtures import captured_phones
from tests.test_android_real_phones import _job

DUMPS = SHARED / "device-dumps"
PROFILES = ("default", "sd8gen2", "old-tool")

# the layout of TFLite's Flags::Usage (LiteRT tflite/tools/command_line_flags.cc), logged at ERROR when
# benchmark_model is started with a leading --help (Flags::Parse refuses it)
USAGE = ("ERROR: usage: /data/local/tmp/benchmark_model <flags>\nFlags:\n"
         "\t--num_runs=50          \tint32\toptional\texpected number of runs, see also min_secs, max_secs\n"
         "\t--graph=               \tstring\toptional\tgraph file name\n"
         "\t--output_filepath=     \tstring\toptional\tFile path to export outputs layer as binary data.\n"
         "\t--use_xnnpack=false    \tbool\toptional\texplicitly apply the XNNPACK delegate.\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, SimLab], object, Path]]:
    if not DUMPS.is_dir():
        pytest.skip(f"needs the device captures at {DUMPS} (../shared beside the checkout)")
    with captured_phones(tmp_path_factory.mktemp("capabilities"), PROFILES, DUMPS) as lab:
        yield lab


def _phone(lab: tuple, profile: str, tool: Path | None = None) -> AndroidDevice:
    labs, client, default_tool = lab
    return AndroidDevice(alias=profile, serial=labs[profile].running[0].serial, adb_client=client,
                         tool=tool or default_tool)


def _root(lab: tuple, profile: str) -> Path:
    return Path(lab[0][profile].running[0].phone.root)


def test_usage_lists_the_flags_a_tool_takes_and_a_crash_lists_none() -> None:
    assert usage_flags(USAGE) == {"num_runs", "graph", "output_filepath", "use_xnnpack"}
    assert usage_flags("/system/bin/sh: /data/local/tmp/bench/benchmark_model: not executable: 64-bit ELF file") \
        is None
    assert usage_flags("Segmentation fault\n") is None


def test_a_snapdragon_8_gen_2_offers_everything_and_its_mask_and_hal_are_named(lab: tuple) -> None:
    caps = {c.name: c for c in _phone(lab, "sd8gen2").capabilities(threads=4, fresh=True)}
    assert all(c.ok for name, c in caps.items() if name != "run_eval"), [c.line for c in caps.values()]
    assert "4 threads on mask f0" in caps["CPU topology"].detail and "cpu_capacity" in caps["CPU topology"].detail
    assert caps["temperatures"].detail.startswith("HAL current (")
    assert "TensorFlow 2.10 or newer" in caps["benchmark_model"].detail
    assert not caps["run_eval"].ok and "--run-eval" in caps["run_eval"].fix  # not given: said, with the fix


def test_an_android_8_phone_with_a_tf_2_9_tool_lacks_output_filepath_and_fixed_performance(lab: tuple) -> None:
    phone = _phone(lab, "old-tool")
    caps = {c.name: c for c in phone.capabilities(threads=4, fresh=True)}
    flag = caps["benchmark_model --output_filepath"]
    assert not flag.ok and "TensorFlow 2.10" in flag.detail and "accuracy" in flag.consequence
    assert not flag.blocks_run  # timing still works
    fixed = caps["fixed-performance mode"]
    assert not fixed.ok and "SDK 27" in fixed.detail
    # bench does not try a mode the phone does not have (its `cmd power` would refuse it)
    assert phone.set_fixed_performance(True) is False
    assert not (_root(lab, "old-tool") / ".sim/fixed_performance").exists()


def test_fixed_performance_is_set_where_the_phone_offers_it(lab: tuple) -> None:
    phone = _phone(lab, "sd8gen2")
    phone.capabilities(threads=4, fresh=True)
    assert phone.set_fixed_performance(True) is True
    assert (_root(lab, "sd8gen2") / ".sim/fixed_performance").read_text().strip() == "true"
    phone.set_fixed_performance(False)


def test_a_phone_without_taskset_or_sha256sum_runs_unpinned_and_pushes_again(lab: tuple, tiny_tflite: Path,
                                                                             tmp_path: Path) -> None:
    _, client, tool = lab
    with SimLab(tmp_path, profile="default") as extra:
        extra.connect(client.port)  # type: ignore[attr-defined]
        for name in ("taskset", "sha256sum"):
            remove_command(extra.phones[0].root, name)
        phone = AndroidDevice(alias="bare", serial=extra.running[0].serial, adb_client=client, tool=tool)
        caps = {c.name: c for c in phone.capabilities(threads=2, fresh=True)}
        assert not caps["taskset"].ok and "inaccessible or not found" in caps["taskset"].detail
        assert "not pinned" in caps["taskset"].consequence
        assert not caps["sha256sum"].ok and "pushed on every run" in caps["sha256sum"].consequence
        job = _job(tiny_tflite, threads=2)
        phone.prepare(job)
        execution = phone.execute(job)  # without the probe this launch starts with `taskset 3`: exit 127
        assert execution.raw.cpu_mask is None and execution.raw.summary is not None
        before = phone.pushed_bytes
        phone.prepare(job)
        assert phone.pushed_bytes > before  # no sha256sum on the phone: nothing can be known to be there


def _elf_for(abi: str, folder: Path) -> Path:
    """The first bytes of an ELF executable for `abi`'s CPU: enough for the check, never run."""
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 2, ELF_MACHINE[abi]) + bytes(44)
    path = folder / "benchmark_model"
    path.write_bytes(header)
    return path


def test_a_tool_for_another_abi_blocks_the_run_before_it_starts(lab: tuple, tmp_path: Path) -> None:
    phone = _phone(lab, "default", tool=_elf_for("arm64-v8a", tmp_path))
    with pytest.raises(DeviceError, match=r"cannot run: benchmark_model: did not start: benchmark_model is built "
                                          r"for arm64-v8a, the phone is x86_64"):
        open_and_preflight(Config(), "default", phone)


def test_the_probe_is_kept_with_the_device_and_cached_per_build(lab: tuple, tmp_path: Path) -> None:
    _, info = open_and_preflight(Config(), "old-tool", _phone(lab, "old-tool"))
    assert any(c.name == "benchmark_model --output_filepath" and not c.ok for c in info.capabilities)
    again = type(info).from_dict(json.loads(json.dumps(info.to_dict())))
    assert again.capabilities == info.capabilities  # stored with the run as it was probed
    _, client, tool = lab
    with SimLab(tmp_path, profile="default") as extra:
        extra.connect(client.port)  # type: ignore[attr-defined]
        serial = extra.running[0].serial

        def names(fresh: bool) -> set[str]:
            phone = AndroidDevice(alias="x", serial=serial, adb_client=client, tool=tool)
            return {c.name for c in phone.capabilities(threads=2, fresh=fresh)}

        assert "taskset" not in names(fresh=False)
        remove_command(extra.phones[0].root, "taskset")
        assert "taskset" not in names(fresh=False)  # the same build: the cached probe stands ...
        assert "taskset" in names(fresh=True)  # ... until bench devices --check probes afresh


def test_devices_check_prints_one_line_per_piece(lab: tuple, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    labs, client, tool = lab
    inventory = tmp_path / "devices"
    inventory.mkdir()
    (inventory / "lab.toml").write_text(f'[[device]]\nalias = "pixel2"\nplatform = "android"\n'
                                        f'serial = "{labs["old-tool"].running[0].serial}"\n')
    monkeypatch.setenv("BENCH_DEVICES", str(inventory))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(client.port))  # type: ignore[attr-defined]
    assert main(["devices", "--check", "pixel2", "--benchmark-model", str(tool)]) == 0
    out = capsys.readouterr().out
    assert "missing  benchmark_model --output_filepath: not taken (it came in TensorFlow 2.10)" in out
    assert "ok       CPU topology: 4x1900 MHz + 4x2457 MHz; 4 threads on mask f0" in out
    assert "bench runs and does as each line says" in out


def test_a_shell_confined_to_the_little_cores_is_not_pinned() -> None:
    # toybox's `taskset -p` answer for a shell whose cpuset holds only CPUs 0-3, on a 4+4 phone
    text = f"{SEPARATOR}taskset\npid 4242's current affinity mask: f\n{SEPARATOR}sha256sum\n"
    topology = CpuTopology(max_khz={cpu: 1900800 if cpu < 4 else 2457600 for cpu in range(8)})
    caps = {c.name: c for c in phone_capabilities(text, shell_v2=True, topology=topology, threads=4, sdk="27")}
    assert not caps["taskset"].ok and "only mask f, not f0 for 4 threads" in caps["taskset"].detail
    assert not caps["taskset"].blocks_run and "not pinned" in caps["taskset"].consequence
    assert not caps["sha256sum"].ok  # an empty answer is no sha256sum, not a match
    assert not caps["temperatures"].ok and "no cool-down gate" in caps["temperatures"].consequence


def test_device_pixel_finds_the_one_attached_pixel_and_an_alias_wins(lab: tuple, monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from bench.devices.select import open_device
    from bench.errors import DeviceError

    labs, client, _ = lab
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(client.port))  # type: ignore[attr-defined]
    monkeypatch.setenv("BENCH_DEVICES", str(tmp_path / "none"))
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    pixel = open_device("pixel")  # no inventory: the attached Pixel 2 XL (old-tool), matched case-insensitively
    assert pixel.serial == labs["old-tool"].running[0].serial  # type: ignore[attr-defined]
    with pytest.raises(DeviceError, match=r"3 attached phones match 'p'"):  # Simulated Phone, SM8550 phone, Pixel
        open_device("p")
    inventory = tmp_path / "devices"
    inventory.mkdir()
    (inventory / "lab.toml").write_text(f'[[device]]\nalias = "pixel"\nplatform = "android"\n'
                                        f'serial = "{labs["sd8gen2"].running[0].serial}"\n')
    monkeypatch.setenv("BENCH_DEVICES", str(inventory))
    assert open_device("pixel").serial == labs["sd8gen2"].running[0].serial  # type: ignore[attr-defined]
