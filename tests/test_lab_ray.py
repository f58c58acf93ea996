"""A lab night on a local Ray cluster: a head and two lab hosts, each owning two simulated phones.

Each host is a `bench lab node` with its own adb server, data and cache folders, as two PCs would
be. The orchestrator (`bench lab run --ray`, a separate process like cron's) sees the four phones
the nodes advertise; host B's node is killed once one of its jobs is stored: host A's phones finish,
host B's phones keep what they sent and the rest is "not run"; with the node back, `--resume`
finishes the night.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.devices.android.sim.lab import adb_binary, free_port
from bench.devices.android.sim.profiles import set_faults

pytest.importorskip("ray", reason="the Ray lab needs the `lab` extra: pip install -e '.[lab]'")

SLOW_MS = 60.0  # host B's phones wait this long per inference: a job takes seconds, so the kill lands mid-night


def _processes_with(text: str, environ: bool = False) -> list[int]:
    """Pids whose command line (or environment) holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / ("environ" if environ else "cmdline")).read_bytes()
        except OSError:
            continue
        if text.encode() in data:
            found.append(int(entry.name))
    return found


def _processes_writing_under(folder: str) -> list[int]:
    """Pids with a file open under `folder`: every process of a Ray cluster keeps its log open in its session."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and any(os.readlink(fd).startswith(folder) for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class Host:
    """A lab host: its folders, its adb server and the environment its node and phones run in."""

    def __init__(self, root: Path, first: int, marker: str) -> None:
        self.root, self.first = root, first
        root.mkdir()
        self.env = dict(os.environ, BENCH_DATA=str(root / "data"), BENCH_CACHE=str(root / "cache"),
                        ANDROID_ADB_SERVER_PORT=str(free_port()), BENCH_TEST_CLUSTER=marker)

    def bench(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "bench", *args], env=self.env, cwd=self.root, text=True,
                              capture_output=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def phone(self, number: int) -> Path:
        return self.root / "data" / "sim" / "phones" / f"phone{number}"

    def raylet(self) -> list[int]:
        mine = set(_processes_with(f"BENCH_DATA={self.root / 'data'}", environ=True))
        return [pid for pid in _processes_with("raylet/raylet") if pid in mine]

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "bench", "sim", "stop"], env=self.env, capture_output=True, timeout=60)
        subprocess.run([adb_binary(), "-P", self.env["ANDROID_ADB_SERVER_PORT"], "kill-server"], capture_output=True,
                       timeout=60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Host, Host]]:
    root = tmp_path_factory.mktemp("raylab")
    ray_tmp = tempfile.mkdtemp(prefix="bray", dir="/tmp")  # short: Ray's socket paths live under it
    port = free_port()
    address = f"127.0.0.1:{port}"
    marker = f"BENCH_TEST_CLUSTER={ray_tmp}"  # in the environment of every process of this cluster, to end them
    hosts = [Host(root / "hostA", 1, ray_tmp), Host(root / "hostB", 3, ray_tmp)]
    try:
        ray = Path(sys.executable).with_name("ray")
        subprocess.run([str(ray), "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                        f"--ray-client-server-port={free_port()}", f"--temp-dir={ray_tmp}", "--disable-usage-stats"],
                       check=True, capture_output=True, timeout=120, env=dict(os.environ, BENCH_TEST_CLUSTER=ray_tmp))
        for host in hosts:
            host.bench("sim", "start", "--count", "2", "--first", str(host.first))
            host.bench("lab", "node", "--ray", address, "--", "--num-cpus=1")
        yield address, hosts[0], hosts[1]
    finally:
        for host in hosts:
            host.stop()
        _kill(_processes_with(marker, environ=True))
        _kill(_processes_writing_under(ray_tmp))  # Ray's agents, which do not keep the environment
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _store_count(store: Path, alias: str) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store, timeout=10) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM jobs WHERE run_id LIKE ? AND status = 'ok'",
                                  (f"%-{alias}-%",)).fetchone()[0])
        except sqlite3.OperationalError as exc:  # the night's process made the file but not yet its tables
            if "no such table" not in str(exc):
                raise
            return 0


def test_a_night_across_nodes_survives_a_node_killed_mid_run(cluster: tuple[str, Host, Host], tiny_tflite: Path,
                                                             tmp_path: Path) -> None:
    address, host_a, host_b = cluster
    for number in (1, 2):
        set_faults(host_a.phone(number), invoke_delay_ms=4.0)
    for number in (3, 4):
        set_faults(host_b.phone(number), invoke_delay_ms=SLOW_MS)
    config = tmp_path / "lab.toml"  # four jobs per phone; the phones are the ones the nodes advertise
    config.write_text(f'[run]\nmodels = ["{tiny_tflite}"]\nvariants = ["original"]\naccelerators = ["xnnpack", '
                      '"none"]\nthreads = [1, 2]\nnum_runs = 30\nmin_secs = 0.0\nwarmup_min_secs = 0.0\n'
                      'cooldown_below_c = 90.0\nwatchdog_margin_s = 20.0\n\n[lab]\nretries = 0\n')
    env = dict(os.environ, BENCH_DATA=str(tmp_path / "data"), BENCH_CACHE=str(tmp_path / "cache"))
    store = tmp_path / "data" / "results.sqlite"
    command = [sys.executable, "-m", "bench", "lab", "run", "--config", str(config), "--ray", address, "--json"]
    night_run = subprocess.Popen(command, env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _store_count(store, "sim3") < 1 and night_run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    raylet = host_b.raylet()
    assert raylet and _store_count(store, "sim3") >= 1, night_run.communicate(timeout=60)
    _kill(raylet)  # host B goes away mid-night
    out, err = night_run.communicate(timeout=240)
    assert night_run.returncode == 0, out + err
    night = json.loads(out)
    phones = night["phones"]
    assert set(phones) == {"sim1", "sim2", "sim3", "sim4"}, phones
    for alias in ("sim1", "sim2"):
        assert phones[alias]["status"] == "done" and phones[alias]["ok"] == 4, phones[alias]
    for alias in ("sim3", "sim4"):
        lost = phones[alias]
        assert lost["status"] == "lost" and "lab node went away" in lost["reasons"][-1], lost
        assert lost["failed"] == 0 and lost["ok"] + lost["not_run"] == 4, lost
        assert lost["ok"] == _store_count(store, alias)  # everything it sent is in the orchestrator's store
    assert phones["sim3"]["ok"] >= 1 and phones["sim3"]["not_run"] >= 1, phones["sim3"]

    # host B comes back; the night is resumed: only what was missing runs
    for number in (3, 4):
        set_faults(host_b.phone(number), invoke_delay_ms=4.0)
    host_b.bench("lab", "node", "--ray", address, "--", "--num-cpus=1")
    resumed = subprocess.run([*command, "--resume", night["night_id"]], env=env, cwd=tmp_path, text=True,
                             capture_output=True, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    phones = json.loads(resumed.stdout)["phones"]
    assert all(p["status"] == "done" and p["ok"] == 4 and p["not_run"] == 0 for p in phones.values()), phones
    assert {a: _store_count(store, a) for a in phones} == dict.fromkeys(phones, 4)
    assert {p["run_id"] for p in phones.values()} == {p["run_id"] for p in night["phones"].values()}
