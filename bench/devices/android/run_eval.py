"""Accuracy on the phone with TFLite's ImageNet `run_eval`, when the user provides the tool.

The evaluation images go to /data/local/tmp/bench/imagenet/<set>/images/ as 000000.jpg, 000001.jpg,
... (run_eval reads a folder in file-name order), with the i-th line of `ground_truth.txt` the i-th
image's class. Classes are written as their index (`0` .. `999`, after `background` for 1001-class
models; one per model output) in both label files: ImageNet's human-readable names repeat (two
`crane`s, two `maillot`s), indices do not. run_eval preprocesses by its own rules (central 87.5%
crop, bilinear resize, floats scaled to [-1, 1]), not by the variant's manifest: the result says so,
and a model those rules would feed wrong numbers is scored with benchmark_model instead, saying why.
So is a model run_eval cannot run at all (LiteRT tools/evaluation/stages/image_classification_stage.cc:
one input shaped {1, H, W, 3} and one output; image_preprocessing_stage.cc: .jpg/.jpeg/.rgb8 files
only) or not at the size it was timed at (run_eval has no flag to resize an input).

Its delegate follows the timing run's: `--use_xnnpack=true|false` (its delegate providers' flag),
`--delegate=gpu|nnapi`; never `--delegate=xnnpack`, which also forces XNNPACK to fp16
(evaluation_delegate_provider.cc sets xnnpack_force_fp16 with it).
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.devices.android import adb
from bench.devices.android.run_tool import command_line, run_tool
from bench.devices.android.tool_flags import check_flags_taken
from bench.devices.base import AccuracyInputs
from bench.engines.tool_output import parse_tool_output
from bench.errors import DeviceError, ResultFormatError, ToolFailedError
from bench.fileio import sha256_unchanged_file
from bench.results.device_records import Accelerator

SECONDS_PER_IMAGE_LIMIT = 10.0
PREPROCESSING = ("run_eval's own: square central crop of 87.5%, bilinear resize (no half-pixel centres), "
                 "float inputs (x - 127.5) / 127.5")
# run_eval's --delegate values for a delegate other than its default CPU path
DELEGATE_FLAG: dict[str, str] = {Accelerator.GPU: "gpu", Accelerator.NNAPI: "nnapi"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".rgb8")


def why_not_run_eval(model: Path, accuracy: AccuracyInputs,
                     timed_shape: tuple[int, ...] | None) -> tuple[str | None, int]:
    """Why run_eval cannot score this model as it was timed (None when it can), and the model's number of
    outputs (run_eval wants a label for each).

    run_eval feeds float inputs (x - 127.5) / 127.5, uint8 inputs x and int8 inputs x - 128 for a
    pixel x; the model wants its own normalisation, quantised by its input tensor's parameters.
    """
    from bench.engines.litert import load_interpreter
    from bench.engines.litert_classify import pixel_normalizer, to_input

    interpreter = load_interpreter(model)
    inputs, outputs_ = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs_) != 1:
        return f"run_eval needs one input and one output, the model has {len(inputs)} and {len(outputs_)}", 0
    detail = inputs[0]
    shape = [int(d) for d in detail["shape"]]
    output_shape = [int(d) for d in outputs_[0]["shape"]]
    outputs = int(np.prod(output_shape))
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return f"run_eval needs an input shaped [1, H, W, 3], the model's is {shape}", outputs
    if len(output_shape) != 2 or output_shape[0] != 1:
        return f"run_eval needs an output shaped [1, N], the model's is {output_shape}", outputs
    if timed_shape is not None and list(timed_shape) != shape:
        return f"run_eval cannot resize the input: timed at {list(timed_shape)}, the model's is {shape}", outputs
    odd = sorted({p.suffix.lower() or "(none)" for p in accuracy.image_files} - set(IMAGE_SUFFIXES))
    if odd:
        return f"run_eval reads only {', '.join(IMAGE_SUFFIXES)} images, not {', '.join(odd)}", outputs
    pixels = np.array([[[[0, 64, 255]]]], np.uint8).repeat(3, axis=-1).reshape(1, 1, 3, 3)
    wanted = to_input(pixels, detail, pixel_normalizer(accuracy.mean, accuracy.std)).astype(np.float32)
    dtype = np.dtype(detail["dtype"])
    fed = {np.dtype(np.float32): (pixels.astype(np.float32) - 127.5) / 127.5,
           np.dtype(np.uint8): pixels.astype(np.float32), np.dtype(np.int8): pixels.astype(np.float32) - 128}.get(dtype)
    if fed is None:
        return f"run_eval cannot feed a {dtype} input", outputs
    tolerance = 0.02 if dtype == np.float32 else 1.0
    if np.max(np.abs(fed - wanted)) <= tolerance:
        return None, outputs
    return (f"run_eval would feed this {dtype} model {fed.min():g}..{fed.max():g} for pixels 0..255, the model wants "
            f"{wanted.min():g}..{wanted.max():g}"), outputs


def _image_set(accuracy: AccuracyInputs) -> tuple[str, list[tuple[Path, str, str]]]:
    """The set's folder name on the phone and (local file, sha256, remote name) for each image."""
    if not accuracy.image_files or len(accuracy.image_files) != len(accuracy.labels):
        raise DeviceError("run_eval needs the evaluation images as files with their labels")
    files = [(path, sha256_unchanged_file(path)) for path in accuracy.image_files]  # once per night, not per job
    digest = hashlib.sha256("\n".join(f"{sha}\t{label}" for (_, sha), label in
                                      zip(files, accuracy.labels, strict=True)).encode()).hexdigest()[:24]
    return digest, [(path, sha, f"{i:06d}{path.suffix.lower() or '.jpg'}") for i, (path, sha) in enumerate(files)]


def evaluate_on_phone(dev: Any, *, root: str, tool: Path, tool_sha256: str, remote_model: str,
                      accuracy: AccuracyInputs, classes: int, threads: int, accelerator: str,
                      cpu_mask: str | None) -> dict[str, Any]:
    """Push the tool, images and labels (each only if changed), run run_eval, return what it scored."""
    set_name, images = _image_set(accuracy)
    folder = f"{root}/imagenet/{set_name}"
    truth = "".join(f"{label}\n" for label in accuracy.labels)
    classes_wanted = range(classes - accuracy.label_offset)
    model_labels = "background\n" * accuracy.label_offset + "".join(f"{i}\n" for i in classes_wanted)
    with tempfile.TemporaryDirectory(prefix="bench-run-eval-") as local:
        texts = []
        for name, text in (("ground_truth.txt", truth), (f"model_labels_{accuracy.label_offset}.txt", model_labels)):
            path = Path(local) / name
            path.write_text(text)
            texts.append((path, hashlib.sha256(text.encode()).hexdigest(), f"{folder}/{name}"))
        moved = adb.push_if_changed(dev, [(p, sha, f"{folder}/images/{name}") for p, sha, name in images])
        moved += adb.push_if_changed(dev, [*texts, (tool, tool_sha256, f"{root}/run_eval")],
                                     executables=frozenset({f"{root}/run_eval"}))
    flags = {"model_file": remote_model, "ground_truth_images_path": f"{folder}/images",
             "ground_truth_labels": f"{folder}/ground_truth.txt",
             "model_output_labels": f"{folder}/model_labels_{accuracy.label_offset}.txt",
             "output_file_path": f"{folder}/metrics.pb", "num_images": "0", "num_interpreter_threads": str(threads),
             "use_xnnpack": str(accelerator == Accelerator.XNNPACK).lower()}
    if accelerator in DELEGATE_FLAG:
        flags["delegate"] = DELEGATE_FLAG[accelerator]
    run = run_tool(dev, command_line(f"{root}/run_eval", flags, cpu_mask),
                   timeout_s=60 + SECONDS_PER_IMAGE_LIMIT * len(images), name="run_eval")
    check_flags_taken(run.output, set(flags), tool="run_eval")
    try:
        report = parse_tool_output(run.output)
    except ResultFormatError as exc:
        tail = run.output.strip().splitlines()[-1:] or ["no output"]
        raise ToolFailedError(f"run_eval gave no result ({tail[0][:120]}); run it by hand on the phone to see why") \
            from exc
    if report.tool != "run_eval" or not report.accuracy:
        raise ToolFailedError(f"run_eval failed: {report.error or 'no accuracy in its output'}")
    if report.eval_runs != len(images):
        raise ToolFailedError(f"run_eval evaluated {report.eval_runs} images, {len(images)} were pushed; check free "
                              f"space and the files in {folder}/images on the phone")
    adb.shell(dev, f"rm -f {shlex.quote(folder)}/metrics.pb")
    return {"tool": "run_eval", "tool_sha256": tool_sha256, "preprocessing": PREPROCESSING,
            "delegate_flag": flags.get("delegate"), "use_xnnpack": flags["use_xnnpack"], "images": report.eval_runs,
            "accuracy": report.accuracy,
            "latency_ms": report.latencies, "pushed_bytes": moved, "wall_s": run.wall_s,
            "exit_code": run.exit_code, "raw_output": run.output}
