"""pymobiledevice3's real discovery code, through a fake usbmuxd on 127.0.0.1, lists an iPhone in `bench devices`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from tests.fake_usbmuxd import UDID, fake_usbmuxd

pytest.importorskip("pymobiledevice3", reason="the ios extra (pymobiledevice3) is not installed")


@pytest.fixture
def usbmuxd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HOME", str(tmp_path))  # no pairing records of this machine's user
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")  # no adb server: only the iPhone is listed
    monkeypatch.chdir(tmp_path)
    with fake_usbmuxd() as address:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", address)
        yield address


def test_bench_devices_lists_the_iphone_usbmuxd_reports(usbmuxd: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "lab.toml").write_text(
        f'[[device]]\nalias = "iphone"\nplatform = "ios"\nudid = "{UDID}"\n')
    assert main(["devices", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["platform"] == "ios"]
    assert rows == [{"alias": "iphone", "platform": "ios", "serial": UDID, "state": "pairing not trusted",
                     "model": "Lab iPhone (iPhone15,2, iOS 17.4.1)", "connection": "usb"}]


def test_a_run_on_an_untrusted_iphone_names_the_fix(usbmuxd: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--device", "ios", "--variants", "fp32"]) == 1
    err = capsys.readouterr().err
    assert f"iPhone {UDID}: pairing not trusted" in err and "tap Trust" in err


def test_without_usbmuxd_an_expected_iphone_is_a_note_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from bench.devices.android.sim.lab import free_port

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.chdir(tmp_path)
    assert main(["devices", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["platform"] == "ios"]
    assert len(rows) == 1 and rows[0]["state"] == "not listed" and "plug it in" in rows[0]["model"]
