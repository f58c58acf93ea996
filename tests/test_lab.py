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


WAIT_MS = 4.0  # each phone's tool waits this long per inference, as a real phone's does from the host's side:
# sub-millisecond host timings move more than 5% night to night on a shared machine


def test_nights_of_a_lab(lab: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for number in (1, 2, 3):
        set_faults(_phone(lab, number), invoke_delay_ms=WAIT_MS)
    set_free_bytes(_phone(lab, 3), 50_000_000)  # below the 200 MB floor: set aside tonight
    # drops once, then comes back
    set_faults(_phone(lab, 4), invoke_delay_ms=WAIT_MS, disconnect_on_command="benchmark_model --graph")
    code, night = _night(lab, tiny_tflite, capsys)
    assert code == 0, night
    phones = night["phones"]
    assert phones["sim3"]["status"] == "quarantined" and "MB free" in phones["sim3"]["reasons"][0]
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
