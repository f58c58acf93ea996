"""Wall time of a lab night for 1, 2, 4 and 8 simulated phones, and the lab's overhead per job.

    python benchmarks/lab_scaling.py [--phones 1,2,4,8] [--jobs 4] [--delay-ms 40] [--ray]

Each simulated phone's benchmark_model waits `--delay-ms` in every inference (the `invoke_delay_ms`
fault), so a job's time is mostly waiting, as a real phone's is from the host's point of view, and
this machine's cores are not what is measured. Every phone runs `--jobs` jobs (a tiny model at
several thread counts) with a fixed number of runs. Per night: wall time, the sum of the tools' own
times (init + warm-up + timed runs as benchmark_model reports them), and the overhead per job
(phone wall time minus tool time, over jobs), and the host CPU seconds bench itself spends per job (what
limits how many phones one host drives). Ideal scaling keeps the wall time flat as phones grow.
With `--ray`, the phones are advertised by a one-node Ray cluster started here (`bench lab node
--head`) and the nights run through it (`bench lab run --ray`): the overhead then includes Ray's
task placement, shipping the variants and streaming each result back.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.devices.android.sim.lab import adb_binary, free_port
from bench.devices.android.sim.profiles import set_faults


def _tiny_model(folder: Path) -> Path:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(x, axis=[1, 2])

    path = folder / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert())
    return path


def _tool_ms(store: Path, run_id: str) -> float:
    from bench.results.store import Store

    total = 0.0
    with Store(store) as s:
        for result in s.job_results(run_id):
            raw = result.raw
            if raw is None or raw.summary is None:
                continue
            summary = raw.summary
            total += (raw.init_ms or 0.0) + (summary.warmup_mean_ms or 0.0) * (summary.warmup_count or 0) \
                + summary.mean_ms * summary.count
    return total


def _children_cpu_s() -> float:
    """CPU seconds of this script's finished children: the `bench lab run` process and what it started (the
    simulated phones' tools run under their own daemon, so the phones' work is not counted)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stop_cluster(folder: str) -> None:
    """End every process of the Ray cluster whose session lives under `folder` (each keeps its logs open there)."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and any(os.readlink(fd).startswith(folder) for fd in (entry / "fd").iterdir()):
                os.kill(int(entry.name), signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phones", default="1,2,4,8")
    parser.add_argument("--jobs", type=int, default=4, help="jobs per phone (thread counts 1..N)")
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ray", action="store_true", help="through a local one-node Ray cluster")
    args = parser.parse_args()
    counts = [int(c) for c in args.phones.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-lab-scaling-") as folder:
        root = Path(folder)
        model = _tiny_model(root)
        port = free_port()
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "BENCH_DATA": str(root / "data"),
               "BENCH_CACHE": str(root / "cache")}
        bench = [sys.executable, "-m", "bench"]
        subprocess.run([*bench, "sim", "start", "--count", str(max(counts))], env=env, cwd=root, check=True,
                       capture_output=True)
        ray_tmp = tempfile.mkdtemp(prefix="bray", dir="/tmp")  # short: Ray's socket paths live under it
        lab_run = [*bench, "lab", "run", "--config", str(root / "lab.toml"), "--json"]
        try:
            if args.ray:
                ray_port = free_port()
                subprocess.run([*bench, "lab", "node", "--head", "--port", str(ray_port), "--",
                                f"--temp-dir={ray_tmp}", f"--ray-client-server-port={free_port()}"],
                               env=env, cwd=root, check=True, capture_output=True)
                lab_run += ["--ray", f"127.0.0.1:{ray_port}"]
            for number in range(1, max(counts) + 1):
                set_faults(root / "data" / "sim" / "phones" / f"phone{number}", invoke_delay_ms=args.delay_ms)
            threads = ", ".join(str(t) for t in range(1, args.jobs + 1))
            print(f"{args.jobs} jobs per phone, {args.runs} timed runs each, {args.delay_ms:g} ms waited per "
                  "inference")
            for count in counts:
                devices = ", ".join(f'"sim{n}"' for n in range(1, count + 1))
                (root / "lab.toml").write_text(
                    f'[run]\nmodels = ["{model}"]\nvariants = ["original"]\nthreads = [{threads}]\n'
                    f"num_runs = {args.runs}\nmin_secs = 0.0\nwarmup_min_secs = 0.0\ncooldown_below_c = 90.0\n\n"
                    f"[lab]\ndevices = [{devices}]\n")
                started, cpu = time.monotonic(), _children_cpu_s()
                done = subprocess.run(lab_run, env=env, cwd=root, capture_output=True, text=True)
                wall, cpu = time.monotonic() - started, _children_cpu_s() - cpu
                night = json.loads(done.stdout)
                phones = night["phones"].values()
                jobs = sum(p["ok"] for p in phones)
                tool_s = sum(_tool_ms(root / "data" / "results.sqlite", p["run_id"]) for p in phones) / 1000
                phone_wall = sum(p["wall_s"] for p in phones)
                print(f"{count} phone(s): night {wall:.1f} s (process), {night['wall_s']:.1f} s (lab), {jobs} jobs ok; "
                      f"tools' own time {tool_s:.1f} s; lab overhead {(phone_wall - tool_s) / max(jobs, 1):.2f} s/job; "
                      f"bench's own host CPU {cpu:.1f} s, {cpu / max(jobs, 1):.2f} s/job")
        finally:
            _stop_cluster(ray_tmp)
            subprocess.run([*bench, "sim", "stop"], env=env, cwd=root, capture_output=True)
            subprocess.run([adb_binary(), "-P", str(port), "kill-server"], capture_output=True, timeout=60)


if __name__ == "__main__":
    main()
