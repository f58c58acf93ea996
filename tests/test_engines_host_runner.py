"""The host runner follows benchmark_model's method and reports every latency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.engines.host_runner import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_runs_until_both_minimums(tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(["--graph", str(tiny_tflite), "--num_runs", "20", "--min_secs", "0.05",
                         "--warmup_runs", "3", "--warmup_min_secs", "0", "--input_shape", "1,32,32,3"], capsys)
    assert code == 0
    assert len(report["latencies_ms"]) >= 20 and len(report["warmup_ms"]) >= 3
    assert sum(report["latencies_ms"]) >= 50.0 * 0.9  # min_secs met (timer granularity aside)
    assert report["first_inference_ms"] == report["warmup_ms"][0]
    assert report["input_shapes"] == [[1, 32, 32, 3]]
    assert report["peak_rss_mb"] >= report["peak_rss_after_init_mb"] > 0


def test_max_secs_stops_a_long_run(tiny_tflite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(["--graph", str(tiny_tflite), "--num_runs", "100000000", "--max_secs", "0.2",
                         "--warmup_min_secs", "0", "--input_shape", "1,8,8,3", "--use_xnnpack", "false"], capsys)
    assert code == 0 and report["accelerator"] == "none"
    assert len(report["latencies_ms"]) < 100000000


def test_a_corrupt_model_is_an_error_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"garbage")
    code, report = _run(["--graph", str(bad)], capsys)
    assert code == 1 and "error" in report and "\n" not in report["error"]


def test_runs_as_its_own_process(tiny_tflite: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.engines.host_runner", "--graph", str(tiny_tflite),
                           "--num_runs", "3", "--min_secs", "0", "--warmup_min_secs", "0",
                           "--input_shape", "1,16,16,3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["latencies_ms"]) >= 3


def test_classify_mode_scores_every_image_like_the_in_process_classifier(
    tiny_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from bench.engines.litert_classify import top_k

    pixels = np.random.default_rng(3).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    code, report = _run(["--graph", str(tiny_tflite), "--num_runs", "2", "--min_secs", "0", "--warmup_min_secs", "0",
                         "--input_shape", "1,16,16,3", "--classify_inputs", str(tmp_path / "pixels.npy"),
                         "--classify_output", str(tmp_path / "top5.npy"), "--mean", "127,127,127",
                         "--std", "128,128,128"], capsys)
    assert code == 0 and report["classify"]["images"] == 4
    assert 0 < report["classify"]["invoke_s"] <= report["classify"]["wall_s"]
    got = np.load(tmp_path / "top5.npy")
    expected = top_k(tiny_tflite, pixels, normalize=lambda x: (x - 127.0) / 128.0, k=5)
    assert got.shape == (4, 5) and np.array_equal(got, expected)


def test_peak_memory_is_the_timing_runs_not_the_accuracy_pass(tiny_tflite: Path, tmp_path: Path) -> None:
    import numpy as np

    pixels = np.zeros((20000, 16, 16, 3), np.uint8)  # 15 MB of images read during the accuracy pass
    np.save(tmp_path / "pixels.npy", pixels)
    # its own process, as in use: this test process's own peak would hide the difference
    done = subprocess.run([sys.executable, "-m", "bench.engines.host_runner", "--graph", str(tiny_tflite),
                           "--num_runs", "2", "--min_secs", "0", "--warmup_min_secs", "0", "--input_shape", "1,16,16,3",
                           "--classify_inputs", str(tmp_path / "pixels.npy"),
                           "--classify_output", str(tmp_path / "top5.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["classify"]["peak_rss_mb"] - report["peak_rss_mb"] > 10
