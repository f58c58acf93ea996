"""Wrong types in bench.toml, devices/*.toml and the lab config: one line naming the file, the key, what was
given and what is expected, at load; never a traceback, never a setting silently wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.config import load_config, with_overrides
from bench.devices.inventory import load_inventory
from bench.errors import ConfigError
from bench.lab.settings import load_lab


@pytest.mark.parametrize(("line", "message"), [
    ('num_runs = "twenty"', '[run] num_runs = "twenty" is a string; expected a whole number, like 50'),
    ("num_runs = 2.5", "[run] num_runs = 2.5 is a number; expected a whole number, like 50"),
    ('cooldown_below_c = "hot"', '[run] cooldown_below_c = "hot" is a string; expected a number, like 1.5'),
    ("cooldown_below_c = 5", "cooldown_below_c must be between 20 and 100"),
    ("benchmark_model = 7", "[run] benchmark_model = 7 is a whole number; expected a string in quotes"),
    ('variants = "fp32"', '[run] variants = "fp32" is a string; expected a list of strings in quotes, like ["a", "b"]'),
    ("threads = [1.5]", "[run] threads = [1.5] is a list; expected a list of whole numbers, like [1, 2]"),
    ('strict = "yes"', '[run] strict = "yes" is a string; expected true or false'),
])
def test_a_wrong_type_in_bench_toml_is_one_line_naming_file_key_and_expectation(
        tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(f"[run]\n{line}\n")
    assert main(["run", "--config", str(config), "--store", str(tmp_path / "s.sqlite")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {config}: ") and message in err, err
    assert not (tmp_path / "s.sqlite").exists()  # refused before the store is even opened


def test_numbers_are_read_as_what_they_mean(tmp_path: Path) -> None:
    config = tmp_path / "bench.toml"
    (tmp_path / "val").mkdir()
    config.write_text(f"[run]\nmin_secs = 2\nnum_runs = 30\n[dataset]\nimagenet = \"{tmp_path / 'val'}\"\n")
    loaded = load_config(config)
    assert loaded.run.min_secs == 2.0 and isinstance(loaded.run.min_secs, float) and loaded.run.num_runs == 30
    assert loaded.dataset.imagenet == tmp_path / "val"
    with pytest.raises(ConfigError, match=r"run = 5; expected a \[run\] table"):
        (tmp_path / "b.toml").write_text("run = 5\n")
        load_config(tmp_path / "b.toml")
    assert with_overrides(load_config(None), num_runs=3).run.num_runs == 3


@pytest.mark.parametrize(("text", "message"), [
    ('[[device]]\nalias = "p"\nserial = "X"\ntags = "flagship"\n',
     '[[device]] tags = "flagship" is a string; expected a list of strings in quotes'),
    ('[[device]]\nalias = "p"\nserial = "X"\nbenchmark_model = 7\n',
     "[[device]] benchmark_model = 7 is a whole number; expected a string in quotes"),
    ('[device]\nalias = "p"\nserial = "X"\n', "[device] must be [[device]] (two brackets: one table per phone)"),
    ('[[device]]\nalias = 3\nserial = "X"\n', "[[device]] alias = 3 is a whole number"),
])
def test_a_wrong_type_in_the_inventory_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "phones.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_inventory([tmp_path])
    assert str(caught.value).startswith(str(tmp_path / "phones.toml")) and message in str(caught.value)


def test_an_inventory_error_reaches_the_user_as_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "lab.toml").write_text('[device]\nalias = "p"\nserial = "X"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DEVICES", raising=False)
    assert main(["run", "--device", "p", "--store", str(tmp_path / "s.sqlite")]) == 1
    err = capsys.readouterr().err
    assert err == "error: devices/lab.toml: [device] must be [[device]] (two brackets: one table per phone)\n"


@pytest.mark.parametrize(("text", "message"), [
    ('[lab]\nretries = "two"\n', '[lab] retries = "two" is a string; expected a whole number'),
    ("[lab]\nbattery_min_percent = 120\n", "battery_min_percent must be 0-100"),
    ('[lab]\ndevices = "pixel"\n', '[lab] devices = "pixel" is a string; expected a list of strings'),
    ('[[lab.matrix]]\ntags = ["flagship"]\nthreads = "4"\n', '[[lab.matrix]] threads = "4" is a string'),
    ('[[lab.matrix]]\ntags = "flagship"\n', '[[lab.matrix]] tags = "flagship" is a string'),
    ('[run]\nnum_runs = "many"\n', '[run] num_runs = "many" is a string'),
])
def test_a_wrong_type_in_the_lab_config_names_the_file_and_key(tmp_path: Path, text: str, message: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lab.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_lab(tmp_path / "lab.toml")
    assert str(caught.value).startswith(str(tmp_path / "lab.toml")) and message in str(caught.value)
