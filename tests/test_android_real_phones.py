"""What real phones do that the plain simulated phone does not: simulated phones serving real captures
(../shared/device-dumps) and the quirks of the phones and tools they come from."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.devices.android import adb
from bench.devices.android.backend import AndroidDevice
from bench.devices.android.run_eval import why_not_run_eval
from bench.devices.android.run_tool import run_tool
from bench.devices.android.sim.lab import SimLab
from bench.devices.android.tool_flags import check_flags_taken, unconsumed_flags
from bench.devices.base import AccuracyInputs, ModelJob, RunSettings
from bench.engines.loop import LoopSettings
from bench.engines.silence import SilenceWatch
from bench.errors import DeviceHungError, ToolFailedError
from bench.fileio import sha256_file
from tests.conftest import SHARED
from tests.simfixtures import captured_phones

DUMPS = SHARED / "device-dumps"
PROFILES = ("default", "android6", "old-tool", "sd8gen2", "hal-not-ready")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, SimLab], object, Path]]:
    if not DUMPS.is_dir():
        pytest.skip(f"needs the device captures at {DUMPS} (../shared beside the checkout)")
    with captured_phones(tmp_path_factory.mktemp("captured"), PROFILES, DUMPS) as lab:
        yield lab


def _phone(lab: tuple[dict[str, SimLab], object, Path], profile: str) -> AndroidDevice:
    labs, client, tool = lab
    return AndroidDevice(alias=profile, serial=labs[profile].running[0].serial, adb_client=client, tool=tool)


def _job(model: Path, threads: int = 1) -> ModelJob:
    return ModelJob(job_id="sim/tiny/fp32/xnnpack/t1", model_path=model, model_sha256=sha256_file(model),
                    accelerator="xnnpack", threads=threads, input_shape=(1, 16, 16, 3), input_name="x",
                    settings=RunSettings(loop=LoopSettings(num_runs=5, min_secs=0, max_secs=10, warmup_runs=1,
                                                           warmup_min_secs=0)))


def test_android6_without_shell_v2_gets_exit_codes_and_lines_without_cr(lab: tuple, tiny_tflite: Path) -> None:
    phone = _phone(lab, "android6")
    assert adb.has_shell_v2(phone.device) is False
    assert adb.shell(phone.device, "echo a; exit 3") == (3, "a\n")
    run = run_tool(phone.device, "sh -c 'echo @@pid $$; echo out; echo err >&2; exit 5'", timeout_s=30)
    assert run.exit_code == 5 and run.pid is not None and "\r" not in run.output
    assert sorted(run.output.split()) == ["err", "out"]
    state = phone.snapshot()  # no thermalservice on Android 6: zones; the battery's CRLF dump still reads
    assert state.battery_percent == 45 and state.temperatures_c["battery (dumpsys)"] == 18.0
    assert state.temperatures_c.get("cpu-thermal") == 36.0
    phone.prepare(_job(tiny_tflite))
    execution = phone.execute(_job(tiny_tflite))
    assert execution.raw.summary is not None and execution.raw.summary.count == 5


def test_old_benchmark_model_ignores_output_filepath_and_the_timing_is_kept(lab: tuple, tiny_tflite: Path,
                                                                             tmp_path: Path) -> None:
    phone = _phone(lab, "old-tool")
    job = _job(tiny_tflite)
    phone.prepare(job)
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, np.zeros((2, 16, 16, 3), np.uint8))
    inputs = AccuracyInputs(pixels_npy=pixels, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), label_offset=0)
    execution = phone.execute(job, inputs)
    assert execution.raw.summary is not None and execution.raw.summary.count == 5  # measured, kept
    assert execution.top5 is None and execution.accuracy_error is not None
    assert "--output_filepath" in execution.accuracy_error and "TensorFlow 2.10" in execution.accuracy_error


def test_unconsumed_flags_as_a_real_tool_prints_them() -> None:
    path = DUMPS / "benchmark_model-unconsumed-cmdline-flags-oppo-cph1920.txt"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    assert unconsumed_flags(path.read_text()) == ["graph"]
    with pytest.raises(ToolFailedError, match="does not know --graph"):
        check_flags_taken(path.read_text(), {"graph", "num_threads"})
    check_flags_taken(path.read_text(), {"num_threads"})  # a flag bench did not pass is not its concern


def test_sd8gen2_topology_pins_four_threads_to_four_cores(lab: tuple, tiny_tflite: Path) -> None:
    phone = _phone(lab, "sd8gen2")
    info = phone.describe()
    assert info.cpu_topology is not None and info.cpu_topology.clusters == [[0, 1, 2], [3, 4, 5, 6], [7]]
    assert info.default_threads_cores == 5 and info.simulated
    job = _job(tiny_tflite, threads=4)
    phone.prepare(job)
    assert phone.execute(job).raw.cpu_mask == "f0"
    temps = phone.snapshot().temperatures_c  # the QTI HAL's current list
    assert temps["CPU0 (cpu, HAL)"] == 36.2 and not any(k.startswith("vbat") for k in temps)


def test_thermal_hal_not_ready_reads_the_zones(lab: tuple) -> None:
    state = _phone(lab, "hal-not-ready").snapshot()
    assert state.temperatures_c.get("cpu-thermal") == 36.0
    assert not any("HAL" in k for k in state.temperatures_c)


def test_a_hung_per_image_loop_is_killed_with_the_tool_it_started(lab: tuple) -> None:
    phone = _phone(lab, "default")
    marker = f"{int(time.time() * 1000) % 100000 + 1000}"
    # the loop's current "tool" is a child of the sh: killing only the sh leaves it running
    script = f"echo @@pid $$; while true; do sleep {marker}; done"
    with pytest.raises(DeviceHungError):
        run_tool(phone.device, f"sh -c '{script}'", timeout_s=2)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
    assert left == []


def test_benchs_own_memory_lines_do_not_keep_a_silent_tool_alive(lab: tuple) -> None:
    """The phone-side memory loop prints while the tool is stuck (every 20 ms, as it does in its first 0.2 s):
    the tool is still silent, and killed as such, not at the launch's deadline."""
    phone = _phone(lab, "default")
    script = ("echo @@pid $$; echo 'INFO: Loaded model x.tflite'; n=1000; "
              "while true; do n=$((n + 1)); echo \"@@mem VmHWM: $n kB\"; sleep 0.02; done")
    with pytest.raises(DeviceHungError, match=r"was silent for 2 s.*its last line: 'INFO: Loaded model x.tflite'"):
        run_tool(phone.device, f"sh -c {shlex.quote(script)}", timeout_s=30, watch=SilenceWatch(load_margin_s=2.0))


def test_memory_is_sampled_on_the_phone_and_taken_out_of_the_output(lab: tuple, tiny_tflite: Path) -> None:
    phone = _phone(lab, "default")
    job = _job(tiny_tflite)
    phone.prepare(job)
    raw = phone.execute(job).raw
    assert raw.peak_rss_mb is not None and raw.peak_rss_mb > 10  # a Python process's VmHWM
    assert "@@mem" not in raw.raw_output and "report_peak_memory_footprint" not in raw.raw_output


def test_run_eval_is_not_chosen_where_it_cannot_run_the_model_as_timed(tiny_tflite: Path, tmp_path: Path) -> None:
    jpeg, png = tmp_path / "a.JPEG", tmp_path / "b.png"
    inputs = AccuracyInputs(pixels_npy=tmp_path / "unused.npy", mean=(127.5,) * 3, std=(127.5,) * 3,
                            label_offset=0, image_files=(jpeg,), labels=(0,))
    reason, classes = why_not_run_eval(tiny_tflite, inputs, (1, 16, 16, 3))  # a free input size, timed at 16
    assert reason is not None and "cannot resize" in reason and classes == 8
    png_inputs = AccuracyInputs(pixels_npy=inputs.pixels_npy, mean=inputs.mean, std=inputs.std, label_offset=0,
                                image_files=(png,), labels=(0,))
    static = _static_model(tmp_path)
    assert why_not_run_eval(static, inputs, None)[0] is None
    reason, _ = why_not_run_eval(static, png_inputs, None)
    assert reason is not None and ".png" in reason


def _static_model(folder: Path) -> Path:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.reduce_mean(x, axis=[1, 2]), (1, 3))

    path = folder / "static.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert())
    return path


def test_simulated_run_eval_resizes_as_tflite_does() -> None:
    import tensorflow as tf

    from bench.devices.android.sim.run_eval_compat import resize_bilinear

    image = np.random.default_rng(0).uniform(0, 255, (37, 53, 3)).astype(np.float32)
    reference = tf.compat.v1.image.resize_bilinear(image[None], (24, 31), align_corners=False,
                                                   half_pixel_centers=False).numpy()[0]
    assert np.abs(reference - resize_bilinear(image, 24, 31)).max() < 1e-3
