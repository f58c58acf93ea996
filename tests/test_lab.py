"""A lab of four simulated phones over several nights: health, quarantine, retries, history and regressions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.sim.profiles import set_faults, set_free_bytes
from tests.simfixtures import simulated_phones


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("lab")
    with simulated_phones(root, 4):
        yield root


def _phone(root: Path, number: int) -> Path:
    return root / "data" / "sim" / "phones" / f"phone{number}"


def _night(root: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    config = root / "lab.toml"
    config.write_text(f'[run]\nmodels = ["{model}"]\nvariants = ["original"]\nnum_runs = 30\nmin_secs = 0.0\n'
                      'warmup_min_secs = 0.0\nthreads = [1]\ncooldown_below_c = 90.0\nwatchdog_margin_s = 10.0\n\n'
                      '[lab]\ndevices = ["sim1", "sim2", "sim3", "sim4"]\nretries = 1\nwindow = 5\n')
    capsys.readouterr()
    code = main(["lab", "run", "--config", str(config), "--json"])
    return code, json.loads(capsys.readouterr().out)


WAIT_MS = 50.0  # each phone's tool waits this long per inference, as a real phone's does from the host's side:
# the milliseconds a busy shared machine adds to an inference stay well under the 5% floor


def test_nights_of_a_lab(lab: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for number in (1, 2, 3):
        set_faults(_phone(lab, number), invoke_delay_ms=WAIT_MS)
    set_free_bytes(_phone(lab, 3), 50_000_000)  # below the 200 MB floor: set aside tonight
    left = _phone(lab, 3) / "data/local/tmp/bench/models/last-week.tflite"  # bench's: removed to free space
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"x" * 1000)
    theirs = _phone(lab, 3) / "data/local/tmp/someone-elses.bin"  # not bench's: never touched
    theirs.write_bytes(b"y")
    # drops once, then comes back
    set_faults(_phone(lab, 4), invoke_delay_ms=WAIT_MS, disconnect_on_command="benchmark_model --graph")
    code, night = _night(lab, tiny_tflite, capsys)
    assert code == 0, night
    phones = night["phones"]
    assert phones["sim3"]["status"] == "quarantined" and "MB free" in phones["sim3"]["reasons"][0]
    assert "even without bench's own files" in phones["sim3"]["reasons"][0]
    assert not left.parent.parent.exists() and theirs.read_bytes() == b"y"
    assert phones["sim3"]["ok"] == 0 and phones["sim3"]["run_id"] is None  # not run, not failed
    assert phones["sim4"]["status"] == "done" and phones["sim4"]["ok"] == 1, phones["sim4"]
    assert [r["attempt"] for r in phones["sim4"]["retries"]] == [1] and "lost phone" in phones["sim4"]["retries"][0][
        "reason"]
    assert all(phones[a]["status"] == "done" and phones[a]["ok"] == 1 for a in ("sim1", "sim2")), phones
    assert all(s["status"] == "new series" for s in phones["sim1"]["series"])
    (_phone(lab, 3) / ".sim/free_kb").unlink()

    for _ in range(2):  # the baseline: two more ordinary nights
        code, night = _night(lab, tiny_tflite, capsys)
        assert code == 0 and all(p["status"] == "done" for p in night["phones"].values()), night

    set_faults(_phone(lab, 1), invoke_delay_ms=3 * WAIT_MS)  # sim1 became slower
    try:
        code, night = _night(lab, tiny_tflite, capsys)
    finally:
        set_faults(_phone(lab, 1), invoke_delay_ms=WAIT_MS)
    assert code == 3, night
    sim1 = night["phones"]["sim1"]
    latency = next(v for v in sim1["series"][0]["verdicts"] if v["kind"] == "latency")
    assert sim1["regressions"] == 1 and latency["status"] == "regression" and latency["change"] > 0.5
    assert all(p["regressions"] == 0 for a, p in night["phones"].items() if a != "sim1")

    changed = lab / "tiny-v2.tflite"  # a new build of the model: its own series, not a regression
    changed.write_bytes(tiny_tflite.read_bytes() + b"\0" * 64)
    (lab / "tiny.tflite").write_bytes(changed.read_bytes())
    code, night = _night(lab, lab / "tiny.tflite", capsys)
    assert code == 0, night
    statuses = {p["series"][0]["status"] for p in night["phones"].values()}
    assert statuses == {"not comparable"}
    assert "model_sha256" in night["phones"]["sim2"]["series"][0]["changed"]


def _tools_running() -> bool:
    """A simulated phone's benchmark_model still running (it outlives a killed lab, as on a real phone)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"benchmark_model_compat" in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_a_night_killed_half_way_is_finished_by_resume(lab: Path, tiny_tflite: Path) -> None:
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    for number in (1, 2):
        set_faults(_phone(lab, number), invoke_delay_ms=40.0)
    model = lab / "tiny-resume.tflite"  # its own series: slower phones tonight are not what is judged here
    model.write_bytes(tiny_tflite.read_bytes() + b"\1" * 64)
    config = lab / "resume.toml"  # four jobs per phone, about two seconds each
    config.write_text(f'[run]\nmodels = ["{model}"]\nvariants = ["original"]\naccelerators = ["xnnpack", '
                      '"none"]\nthreads = [1, 2]\nnum_runs = 30\nmin_secs = 0.0\nwarmup_min_secs = 0.0\n'
                      'cooldown_below_c = 90.0\nwatchdog_margin_s = 10.0\n\n[lab]\ndevices = ["sim1", "sim2"]\n')
    store = lab / "data" / "results.sqlite"
    before = {p.name for p in (lab / "data" / "lab").glob("*.json")}
    with sqlite3.connect(store, timeout=10) as db:
        last_row = int(db.execute("SELECT MAX(rowid) FROM jobs").fetchone()[0])

    def measured() -> int:  # jobs stored by this night
        with sqlite3.connect(store, timeout=10) as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs WHERE rowid > ?", (last_row,)).fetchone()[0])

    command = [sys.executable, "-m", "bench", "lab", "run", "--config", str(config), "--json"]
    night_run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while night_run.poll() is None and measured() < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    night_run.send_signal(signal.SIGKILL)  # cron's host rebooted, or the job was killed
    night_run.communicate(timeout=60)
    done_before = measured()
    assert 1 <= done_before < 8, done_before
    (night_file,) = [p for p in (lab / "data" / "lab").glob("*.json") if p.name not in before]
    while _tools_running() and time.monotonic() < deadline:  # the phones finish the job they were given
        time.sleep(0.2)

    resumed = subprocess.run([*command, "--resume", night_file.stem], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    phones = json.loads(resumed.stdout)["phones"]
    assert all(p["status"] == "done" and p["ok"] == 4 and p["not_run"] == 0 for p in phones.values()), phones
    assert measured() == 8  # the jobs measured before the kill were kept, not measured again
    for number in (1, 2):
        set_faults(_phone(lab, number), invoke_delay_ms=WAIT_MS)


def test_the_shipped_examples_parse_and_are_no_inventory_until_copied(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.devices.inventory import load_inventory
    from bench.errors import ConfigError
    from bench.lab.settings import load_lab

    examples = Path(__file__).parent.parent / "devices" / "examples"
    phones = load_inventory([examples])  # they parse as they would once copied
    assert {(e.alias, e.platform) for e in phones.values()} == {("pixel", "android"), ("iphone", "ios")}
    monkeypatch.setenv("BENCH_DEVICES", str(tmp_path / "devices"))
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    _, settings, inventory = load_lab(examples / "lab.toml")
    assert settings.devices == ("sim1", "sim2") and "pixel" not in inventory  # the example phones stay examples
    with pytest.raises(ConfigError, match=r"copy devices/examples/lab\.toml"):
        load_lab(tmp_path / "lab.toml")
