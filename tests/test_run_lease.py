"""One lease per phone: a second holder is refused with who holds it; a dead holder leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import DeviceNotReadyError
from bench.lab.lease import phone_lease


def test_a_held_phone_is_refused_and_free_again_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    with phone_lease("127.0.0.1:5555"):
        with pytest.raises(DeviceNotReadyError, match=r"phone 127.0.0.1:5555 is in use by pid \d+"), \
                phone_lease("127.0.0.1:5555"):
            pass
        with phone_lease("OTHER-PHONE"):  # another phone is free
            pass
    with phone_lease("127.0.0.1:5555"):  # released
        pass


def test_a_killed_holder_leaves_no_stale_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time, sys; from bench.lab.lease import phone_lease\n"
        "with phone_lease('SERIAL'):\n    print('held', flush=True); time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True, env={**__import__("os").environ, "BENCH_DATA": str(tmp_path)})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(DeviceNotReadyError), phone_lease("SERIAL"):
        pass
    holder.kill()
    holder.wait(10)
    with phone_lease("SERIAL"):
        pass
