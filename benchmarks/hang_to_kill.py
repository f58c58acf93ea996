"""How long after a phone's benchmark_model hangs is it killed, with bench's default settings?

    python benchmarks/hang_to_kill.py [--delay-ms 20]

One simulated phone on a private adb server, a small model, benchmark_model's default loop (50
runs, at least 1 s, at most 150 s; 1 warm-up run of at least 0.5 s) and bench's default margin
(`watchdog_margin_s` 60 s): each inference waits `--delay-ms` on the phone, so a job takes about
2-3 s. The tool then hangs at three points: before it prints anything (the phone's shell never
starts it), in its warm-up's first inference, and in its 10th timed inference (counted past the
warm-up runs the job without a hang made). For each, the seconds from
the hang (the launch, or the moment the simulated tool stopped, which it writes down) to bench's
DeviceHungError, and the bound the watchdog had computed. Before the watch, every hang was killed
at the fixed deadline, 2 x max_secs + margin = 360 s from launch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.devices.android import adb
from bench.devices.android.backend import AndroidDevice
from bench.devices.android.sim.lab import AdbServer, SimLab, free_port
from bench.devices.android.sim.profiles import set_faults
from bench.devices.android.sim.serve import tool_script
from bench.devices.base import ModelJob, RunSettings
from bench.errors import DeviceHungError
from bench.fileio import sha256_file


def _model(folder: Path) -> Path:
    import tensorflow as tf

    kernel = tf.constant(0.01, shape=(3, 3, 8, 8))

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 8], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME")), axis=[1, 2])

    path = folder / "conv.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert())
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=20.0, help="each inference's wait on the phone")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-hang-") as folder, AdbServer(port), \
            SimLab(Path(folder) / "phones") as lab:
        lab.connect(port)
        sandbox = lab.phones[0].root
        model = _model(Path(folder))
        phone = AndroidDevice("sim", lab.running[0].serial, adb.client(port=port), tool=tool_script(Path(folder)))
        job = ModelJob(job_id="hang", model_path=model, model_sha256=sha256_file(model), accelerator="xnnpack",
                       threads=1, input_shape=None, input_name="x", settings=RunSettings())
        phone.prepare(job)
        set_faults(sandbox, invoke_delay_ms=args.delay_ms)
        started = time.monotonic()
        summary = phone.execute(job).raw.summary
        warmups = summary.warmup_count if summary and summary.warmup_count else 1
        print(f"a job without a hang: {time.monotonic() - started:.1f} s (launch to result), {warmups} warm-up runs")
        for where, faults in (("before its first line", {"hang_on_command": "benchmark_model --graph"}),
                              ("in the warm-up's first inference", {"hang_in_invoke": 1}),
                              ("in the 10th timed inference", {"hang_in_invoke": warmups + 10})):
            (sandbox / ".sim" / "hung_at").unlink(missing_ok=True)
            set_faults(sandbox, invoke_delay_ms=args.delay_ms, **faults)
            launched_wall, launched = time.time(), time.monotonic()
            try:
                phone.execute(job)
                print(f"{where}: not killed?")
                continue
            except DeviceHungError as exc:
                killed = time.monotonic()
                message = str(exc)
            hung_file = sandbox / ".sim" / "hung_at"
            hung_after_launch = float(hung_file.read_text()) - launched_wall if hung_file.exists() else 0.0
            print(f"{where}: killed {killed - launched - hung_after_launch:.1f} s after the hang "
                  f"({killed - launched:.1f} s after launch)\n    {message}")
        set_faults(sandbox)


if __name__ == "__main__":
    main()
