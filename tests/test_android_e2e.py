"""`bench sim start` then `bench run --device sim1`: the whole Android path, through the real adb server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.sim.lab import adb_binary, free_port


@pytest.fixture
def sims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    port = free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no project devices/ folder: only the simulated phones' inventory
    try:
        assert main(["sim", "start", "--count", "2"]) == 0
        assert "sim2: 127.0.0.1:" in capsys.readouterr().out
        yield tmp_path
    finally:
        main(["sim", "stop"])
        subprocess.run([adb_binary(), "-P", str(port), "kill-server"], capture_output=True, timeout=60)


def test_run_on_two_simulated_phones_gives_the_table(sims: Path, tiny_tflite: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for alias in ("sim1", "sim2"):
        code = main(["run", "--device", alias, "--model", str(tiny_tflite), "--variants", "original",
                     "--accelerators", "xnnpack,gpu", "--num-runs", "10", "--min-secs", "0", "--warmup-min-secs",
                     "0", "--json"])
        assert code in (0, 2)  # 2: flagged unstable, which a shared host may be
        run = json.loads(capsys.readouterr().out)
        assert run["device"]["platform"] == "android" and run["device"]["simulated"] is True
        # probed before the run and kept with it: what the phone offered bench
        offered = {c["name"]: c["ok"] for c in run["device"]["capabilities"]}
        assert offered["benchmark_model"] and offered["CPU topology"] and offered["fixed-performance mode"], offered
        by_accelerator = {r["accelerator"]: r for r in run["results"]}
        assert set(by_accelerator) == {"xnnpack", "gpu"} and all(r["status"] == "ok" for r in run["results"])
        assert by_accelerator["xnnpack"]["latency_ms"]["mean"] > 0 and by_accelerator["xnnpack"]["fps"] > 0
        assert by_accelerator["gpu"]["accelerator_used"] == "cpu (fallback from gpu)"  # no GPU on this host
    assert main(["report", "latest"]) == 0
    table = capsys.readouterr().out
    assert "(simulated)" in table and "original" in table and "gpu -> cpu (fallback from gpu)" in table


def test_sim_list_and_stop(sims: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "list", "--json"]) == 0
    phones = json.loads(capsys.readouterr().out)
    assert [p["alias"] for p in phones] == ["sim1", "sim2"]
    assert main(["sim", "stop"]) == 0
    assert main(["sim", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == []


def test_devices_lists_the_host_and_the_simulated_phones(sims: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sims / "devices").mkdir()
    (sims / "devices" / "lab.toml").write_text('[[device]]\nalias = "pixel"\nplatform = "android"\n'
                                               'serial = "NOT-PLUGGED-IN"\n')
    assert main(["devices", "--json"]) == 0
    rows = {r["alias"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["local"]["state"] == "online"
    assert rows["sim1"]["state"] == "online" and rows["sim1"]["simulated"] is True
    assert rows["sim2"]["battery_percent"] == 87 and rows["sim2"]["temperature_c"] == 36.0
    assert rows["pixel"]["state"] == "absent"
    assert main(["run", "--device", "pixel"]) == 1
    assert "phone NOT-PLUGGED-IN is not attached" in capsys.readouterr().err


def _phone_root(sims: Path, number: int) -> Path:
    return sims / "data" / "sim" / "phones" / f"phone{number}"


def test_a_hot_phone_is_waited_for_and_the_result_says_it_never_cooled(
    sims: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.devices.android.sim.profiles import set_temperature

    set_temperature(_phone_root(sims, 1), 60.0)
    code = main(["run", "--device", "sim1", "--model", str(tiny_tflite), "--variants", "original", "--num-runs", "10",
                 "--min-secs", "0", "--warmup-min-secs", "0", "--cooldown-timeout-s", "1", "--json"])
    assert code == 0  # measured: the flag is a warning, printed and stored (exit 2 only with --strict)
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["status"] == "ok"
    assert any("still at 60.0 °C after waiting" in w for w in result["warnings"])


def _varied_model(folder: Path) -> Path:
    """A tiny float model whose 16 outputs differ from image to image (so rankings can disagree)."""
    import tensorflow as tf

    weights = tf.random.stateless_normal((3, 16), seed=(1, 2))

    @tf.function(input_signature=[tf.TensorSpec([1, 224, 224, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        colour = tf.reduce_mean(x, axis=[1, 2])  # (1, 3): the image's colour balance decides the ranking
        return tf.matmul(colour - tf.reduce_mean(colour), weights)

    path = folder / "varied.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert())
    return path


def test_accuracy_on_the_phone_matches_the_host_image_by_image(sims: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.imagefixtures import class_folders

    images = class_folders(sims / "imagenet")
    model = _varied_model(sims)
    predictions = {}
    for device in ("local", "sim1"):
        code = main(["run", "--device", device, "--model", str(model), "--variants", "original", "--imagenet",
                     str(images), "--num-runs", "5", "--min-secs", "0", "--warmup-min-secs", "0", "--json"])
        assert code in (0, 2)
        run = json.loads(capsys.readouterr().out)
        assert run["results"][0]["status"] == "ok", run["results"][0]["error"]
        total = len(list(images.rglob("*.JPEG")))
        assert run["results"][0]["accuracy"]["images"] == total - total // 4  # a quarter is the calibration split
        assert main(["export", run["run_id"]]) == 0
        exported = json.loads(capsys.readouterr().out)
        predictions[device] = exported["results"][0]["accuracy"]["predictions_top5"]
        reference = exported["results"][0]["accuracy"]["host_reference"]
        if device == "sim1":  # the same file on the same CPU: the phone's numbers must match the host's
            assert reference["top1_agreement"] == 1.0 and reference["mean_abs_output_diff"] < 1e-4
        else:
            assert reference is None
    assert predictions["sim1"] == predictions["local"]
    assert len({tuple(p) for p in predictions["local"]}) > 1  # the images were told apart


def test_fixed_performance_mode_and_op_profiling_reach_the_phone(
    sims: Path, tiny_tflite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = _phone_root(sims, 2) / ".sim/fixed_performance"
    code = main(["run", "--device", "sim2", "--model", str(tiny_tflite), "--variants", "original", "--num-runs", "5",
                 "--min-secs", "0", "--warmup-min-secs", "0", "--fixed-performance", "--op-profiling", "--json"])
    assert code in (0, 2)
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert flag.read_text().strip() == "false"  # on for the run, off again after it
    assert main(["export", run_id]) == 0
    exported = json.loads(capsys.readouterr().out)
    result = exported["results"][0]
    assert result["state_before"]["fixed_performance"] is True
    assert any(c["name"] == "fixed-performance mode" and c["ok"] for c in exported["device"]["capabilities"])
    # the flag reached the tool; the simulated phone's tool has no op profiler and says so: no table is made up
    assert "Enable op profiling: [1]" in result["raw"]["raw_output"] and result["raw"]["op_profile"] is None


def _colour_model(folder: Path) -> Path:
    """A uint8-input (scale 1, zero point 0) 1,000-class model that names an image's class from its colour."""
    import numpy as np
    import tensorflow as tf

    from tests.imagefixtures import COLOURS

    weights = np.zeros((3, 1000), np.float32)
    for label, colour in COLOURS.items():
        weights[:, label] = (np.asarray(colour) / 255.0 - 0.5) * 4

    @tf.function(input_signature=[tf.TensorSpec([1, 224, 224, 3], tf.float32)])
    def model(x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(tf.reduce_mean(x, axis=[1, 2]) / 255.0 - 0.5, tf.constant(weights))

    def calibration() -> Iterator[list[np.ndarray]]:
        for value in (0, 255, 128):  # pixels span 0..255 exactly: the input's scale is 1, its zero point 0
            yield [np.full((1, 224, 224, 3), value, np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    path = folder / "colour.tflite"
    path.write_bytes(converter.convert())
    return path


def test_run_eval_scores_on_the_phone_and_a_model_it_would_misfeed_is_scored_another_way(
    sims: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.imagefixtures import coloured_class_folders

    images = coloured_class_folders(sims / "imagenet")
    run_eval = sims / "data" / "sim" / "run_eval"  # the simulated phones' run_eval (`bench sim start` writes it)
    scored = {}
    for model in (_colour_model(sims), _varied_model(sims)):
        code = main(["run", "--device", "sim1", "--model", str(model), "--variants", "original", "--imagenet",
                     str(images), "--run-eval", str(run_eval), "--num-runs", "5", "--min-secs", "0",
                     "--warmup-min-secs", "0", "--json"])
        assert code in (0, 2)
        run_id = json.loads(capsys.readouterr().out)["run_id"]
        assert main(["export", run_id]) == 0
        result = json.loads(capsys.readouterr().out)["results"][0]
        assert result["status"] == "ok", result["error"]
        scored[model.stem] = result["accuracy"]
        if model.stem == "colour":
            assert main(["report", run_id]) == 0
            table = capsys.readouterr().out
            assert "100.0 †" in table and "† scored on the device by run_eval with its own preprocessing" in table
    colour = scored["colour"]
    # run_eval scored it on the phone: images pushed in order with their labels, so every colour is right
    assert colour["scored_by"]["tool"] == "run_eval" and colour["images"] == 9
    # the timing run's XNNPACK, as run_eval's delegate-provider flag; not --delegate=xnnpack (it forces fp16)
    assert colour["scored_by"]["use_xnnpack"] == "true" and colour["scored_by"]["delegate_flag"] is None
    assert colour["top1"] == 1.0 and colour["scored_by"]["topk"]["top10"] == 1.0
    assert colour["predictions_top5"] == [] and colour["top1_agreement_with_fp32"] is None  # run_eval gives none
    # the float model takes raw pixels; run_eval would feed it [-1, 1]: benchmark_model scored it, saying why
    varied = scored["varied"]
    assert varied["scored_by"]["tool"] == "benchmark_model"
    assert "run_eval would feed this float32 model -1..1" in varied["scored_by"]["run_eval_not_used"]
    assert len(varied["predictions_top5"]) == 9


def test_clean_removes_only_what_bench_put_on_the_phone(sims: Path, tiny_tflite: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    theirs = _phone_root(sims, 1) / "data/local/tmp/someone-elses.bin"
    theirs.write_bytes(b"keep")
    # a .tflite without --variants runs as it is (the default variants need a source model)
    code = main(["run", "--device", "sim1", "--model", str(tiny_tflite), "--num-runs", "5",
                 "--min-secs", "0", "--warmup-min-secs", "0", "--clean", "--json"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 0 and [(r["variant"], r["status"]) for r in results] == [("original", "ok")], results
    assert not (_phone_root(sims, 1) / "data/local/tmp/bench").exists() and theirs.read_bytes() == b"keep"
    left = _phone_root(sims, 2) / "data/local/tmp/bench/models/old.tflite"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"x")
    assert main(["devices", "clean", "sim2"]) == 0
    assert "sim2 (bench-sim" in capsys.readouterr().out and not left.parent.parent.exists()
    assert main(["devices", "clean"]) == 1  # no alias: one line saying how
    assert "python -m bench devices clean ALIAS" in capsys.readouterr().err
