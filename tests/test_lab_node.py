"""`bench lab node` names its phones from the inventory folder it is given, wherever it is run from."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from tests.simfixtures import simulated_phones


@pytest.fixture(scope="module")
def serials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    root = tmp_path_factory.mktemp("node")
    with simulated_phones(root, 2):
        state = json.loads((root / "data" / "sim" / "state.json").read_text())
        yield [phone["serial"] for phone in state["phones"]]


def test_a_node_run_elsewhere_names_its_phones_from_its_devices_folder(
        serials: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bench.lab import node

    inventory = tmp_path / "lab-host" / "devices"
    inventory.mkdir(parents=True)
    (inventory / "phones.toml").write_text(f'[[device]]\nalias = "pixel"\nserial = "{serials[0]}"\n')
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no ./devices here: the folder named on the command line is the inventory
    monkeypatch.delenv("BENCH_DEVICES", raising=False)
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "other-data"))  # the sims' own inventory is not this host's
    started: list[list[str]] = []
    monkeypatch.setattr(node, "start_node", lambda phones, **kw: started.append(phones))
    assert main(["lab", "node", "--head", "--devices", str(inventory)]) == 0
    out = capsys.readouterr().out
    assert started == [sorted(["pixel", serials[1]])]
    assert f"  pixel ({serials[0]})" in out
    assert f"  {serials[1]}: not in {inventory}, so advertised by its serial" in out
    assert "advertising 2 phone(s)" in out
    assert os.environ.get("BENCH_DEVICES") is None


def test_a_node_without_its_inventory_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "node", "--head", "--devices", str(tmp_path / "nope")]) == 1
    assert "no inventory folder" in capsys.readouterr().err


def test_a_node_without_devices_given_or_a_default_folder_names_simulated_phones_by_their_sim_names(
        serials: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bench.lab import node

    monkeypatch.chdir(tmp_path)  # no ./devices: the default folder may be absent, a named one may not
    monkeypatch.delenv("BENCH_DEVICES", raising=False)
    started: list[list[str]] = []
    monkeypatch.setattr(node, "start_node", lambda phones, **kw: started.append(phones))
    assert main(["lab", "node", "--head"]) == 0
    out = capsys.readouterr().out
    assert "no inventory folder devices here" in out
    assert started == [["sim1", "sim2"]]
