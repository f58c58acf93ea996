"""`bench-benchmark-model` speaks benchmark_model's flags and output, and our parser reads it back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.engines.tool_output import parse_tool_output


def _tool(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.devices.android.sim.benchmark_model_compat", *flags],
                          capture_output=True, text=True, timeout=120)


def test_output_parses_as_benchmark_model_with_every_number(tiny_tflite: Path) -> None:
    done = _tool(f"--graph={tiny_tflite}", "--num_threads=1", "--num_runs=7", "--min_secs=0", "--warmup_runs=2",
                 "--warmup_min_secs=0", "--input_layer=x", "--input_layer_shape=1,16,16,3",
                 "--report_peak_memory_footprint=true")
    assert done.returncode == 0, done.stderr
    report = parse_tool_output(done.stdout).to_dict()
    assert report["tool"] == "benchmark_model" and report["status"] == "ok"
    assert report["inference"]["count"] == 7 and report["warmup"]["count"] == 2
    inference = report["inference"]
    assert 0 < inference["min_ms"] <= inference["median_ms"] <= inference["max_ms"]
    assert report["inference_avg_ms"] == inference["avg_ms"]
    assert report["init_ms"] > 0 and report["first_inference_ms"] > 0
    assert report["memory"]["overall_mb"] >= report["memory"]["init_mb"] >= 0 and report["memory"]["peak_mb"] > 0


def test_gpu_asked_on_a_host_without_one_runs_on_cpu_and_says_so(tiny_tflite: Path) -> None:
    done = _tool(f"--graph={tiny_tflite}", "--num_runs=2", "--min_secs=0", "--warmup_min_secs=0", "--use_gpu=true",
                 "--input_layer=x", "--input_layer_shape=1,16,16,3")
    report = parse_tool_output(done.stdout).to_dict()
    assert report["status"] == "ok" and {"name": "GPU", "status": "failed", "nodes_delegated": None,
                                         "nodes_total": None, "partitions": None} in report["delegates"]


def test_inputs_from_files_and_outputs_to_a_file(tiny_tflite: Path, tmp_path: Path) -> None:
    from bench.engines.litert_classify import iterate_scores

    image = np.random.default_rng(1).integers(0, 256, (1, 16, 16, 3)).astype(np.float32)
    image.tofile(tmp_path / "input.raw")
    done = _tool(f"--graph={tiny_tflite}", "--num_runs=1", "--min_secs=0", "--warmup_min_secs=0",
                 "--input_layer=x", "--input_layer_shape=1,16,16,3",
                 f"--input_layer_value_files=x:{tmp_path / 'input.raw'}",
                 f"--output_filepath={tmp_path / 'output.raw'}")
    assert done.returncode == 0, done.stdout
    got = np.fromfile(tmp_path / "output.raw", dtype=np.float32)
    expected = next(iterate_scores(tiny_tflite, image.astype(np.uint8), normalize=lambda x: x))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_a_missing_model_fails_like_the_tool(tmp_path: Path) -> None:
    done = _tool(f"--graph={tmp_path / 'gone.tflite'}")
    assert done.returncode == 1
    report = parse_tool_output(done.stdout).to_dict()
    assert report["status"] == "failed" and "Could not open" in report["error"]


def test_input_flags_are_refused_where_benchmark_model_refuses_them(tiny_tflite: Path) -> None:
    for flags in (["--input_layer_shape=1,16,16,3"],  # a shape for no named input
                  ["--input_layer=x", "--input_layer_shape=1,16,16,3", "--input_layer_value_files=y:/tmp/y.raw"],
                  ["--input_layer=nope", "--input_layer_shape=1,16,16,3"]):
        done = _tool(f"--graph={tiny_tflite}", "--num_runs=1", "--min_secs=0", "--warmup_min_secs=0", *flags)
        assert done.returncode == 1, flags
        assert parse_tool_output(done.stdout).status == "failed", flags


def test_a_name_with_a_colon_is_escaped_in_the_files_map() -> None:
    from bench.devices.android.sim.benchmark_model_compat import input_layers

    layers = input_layers("serving_default_x:0", "1,8,8,3", "serving_default_x::0:/data/local/tmp/a.raw")
    assert layers == {"serving_default_x:0": ([1, 8, 8, 3], "/data/local/tmp/a.raw")}
