"""Does reading the tool's memory on the phone change its latency? p50 with and without the sampler.

    python benchmarks/android_sampling.py [--launches 10] [--runs 30]

One simulated phone on a private adb server; a small convolutional model built here; launches of
benchmark_model alternate between the phone-side VmHWM loop on and off (so drift hits both alike).
Reports each side's median of per-launch p50s and the spread of p50 between launches of the same
side (the noise the difference is compared with).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.devices.android import adb
from bench.devices.android.backend import AndroidDevice
from bench.devices.android.sim.lab import AdbServer, SimLab, free_port
from bench.devices.android.sim.serve import tool_script
from bench.devices.base import ModelJob, RunSettings
from bench.engines.loop import LoopSettings
from bench.fileio import sha256_file


def _model(folder: Path) -> Path:
    import tensorflow as tf

    kernel = tf.constant(0.01, shape=(3, 3, 16, 16))

    @tf.function(input_signature=[tf.TensorSpec([1, 112, 112, 16], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        for _ in range(4):
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME"))
        return tf.reduce_mean(x, axis=[1, 2])

    path = folder / "conv.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert())
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as folder, AdbServer(port), \
            SimLab(Path(folder) / "phones") as lab:
        lab.connect(port)
        model = _model(Path(folder))
        tool = tool_script(Path(folder))
        phone = AndroidDevice("sim", lab.running[0].serial, adb.client(port=port), tool=tool)
        job = ModelJob(job_id="sampling", model_path=model, model_sha256=sha256_file(model), accelerator="xnnpack",
                       threads=1, input_shape=None, input_name="x", settings=RunSettings(
                           loop=LoopSettings(num_runs=args.runs, min_secs=0, warmup_runs=3, warmup_min_secs=0)))
        phone.prepare(job)
        p50 = {True: [], False: []}
        for launch in range(2 * args.launches):
            phone.sample_memory = launch % 2 == 0
            summary = phone.execute(job).raw.summary
            assert summary is not None and summary.median_ms is not None
            p50[phone.sample_memory].append(summary.median_ms)
    on, off = (statistics.median(p50[k]) for k in (True, False))
    noise = max(statistics.stdev(p50[k]) for k in (True, False))
    print(f"p50 with the sampler {on:.3f} ms, without {off:.3f} ms: difference {on - off:+.3f} ms "
          f"({(on - off) / off * 100:+.1f}%); launch-to-launch spread of p50 {noise:.3f} ms "
          f"({args.launches} launches each, {args.runs} runs per launch)")


if __name__ == "__main__":
    main()
