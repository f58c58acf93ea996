"""Accuracy on the phone: the timed model, run by benchmark_model itself on every image.

Each image becomes a raw file of the model's input tensor (its dtype, its quantisation), pushed to
/data/local/tmp/bench/inputs/<set>/ (a set already on the phone is not pushed again). One shell
invocation runs the tool once per image with `--input_layer_value_files` and `--output_filepath`,
the same flags, threads and delegate as the timing run; the outputs are pulled and ranked here.
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.devices.android import adb
from bench.devices.android.run_tool import run_tool
from bench.devices.android.tool_flags import check_flags_taken
from bench.devices.base import AccuracyInputs
from bench.engines.loop import LoopSettings
from bench.errors import DeviceError, ToolFailedError

SECONDS_PER_IMAGE_LIMIT = 10.0

ONE_INFERENCE = LoopSettings(num_runs=1, min_secs=0.0, warmup_runs=0, warmup_min_secs=0.0)  # per image


def classify_on_phone(dev: Any, model: Path, remote_model: str, tool: str, flags: dict[str, str],
                      accuracy: AccuracyInputs,
                      input_shape: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Return the (N, 5) best classes, the (N, classes) scores and the wall time of the accuracy pass."""
    from bench.engines.litert import load_interpreter
    from bench.engines.litert_classify import best_classes, pixel_normalizer, scores, to_input

    started = time.monotonic()
    interpreter = load_interpreter(model)
    detail = interpreter.get_input_details()[0]
    if input_shape:
        interpreter.resize_tensor_input(detail["index"], list(input_shape), strict=True)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
    output = interpreter.get_output_details()[0]
    pixels = np.load(accuracy.pixels_npy, mmap_mode="r")
    if tuple(detail["shape"][1:3]) != tuple(pixels.shape[1:3]):
        raise DeviceError(f"model input {list(detail['shape'])} does not fit images of {list(pixels.shape[1:3])}")
    normalize = pixel_normalizer(accuracy.mean, accuracy.std)
    tensors = [to_input(np.asarray(pixels[i:i + 1]), detail, normalize) for i in range(len(pixels))]
    digest = hashlib.sha256(b"".join(t.tobytes() for t in tensors)).hexdigest()[:24]
    folder = f"{Path(remote_model).parent.parent}/inputs/{digest}"
    with tempfile.TemporaryDirectory(prefix="bench-phone-inputs-") as local:
        pairs = []
        for i, tensor in enumerate(tensors):
            path = Path(local) / f"{i}.raw"
            tensor.tofile(path)
            pairs.append((path, hashlib.sha256(tensor.tobytes()).hexdigest(), f"{folder}/{i}.raw"))
        adb.push_if_changed(dev, pairs)
    name = str(detail["name"])
    passed = {**flags, "graph": remote_model, **ONE_INFERENCE.to_flags(), "input_layer": name,
              "input_layer_shape": ",".join(str(d) for d in detail["shape"])}
    one = " ".join(shlex.quote(f"--{k}={v}") for k, v in passed.items())
    # the tool reads `name:path`, a `:` inside the name written `::` (`serving_default_x::0:/path`)
    files = f"{shlex.quote(name.replace(':', '::'))}:{shlex.quote(folder)}/$i.raw"
    # the first image's output comes back (flags the tool did not take, its errors); a failed first image
    # ends the loop, since every other image would fail the same way
    tool_line = (f"{shlex.quote(tool)} {one} --input_layer_value_files={files} "
                 f"--output_filepath={shlex.quote(folder)}/out/$i.raw")
    loop = (f"mkdir -p {shlex.quote(folder)}/out; i=0; while [ $i -lt {len(tensors)} ]; do "
            f"if [ $i -eq 0 ]; then {tool_line} 2>&1 || {{ echo \"@@failed $i\"; exit 0; }}; "
            f"else {tool_line} >/dev/null 2>&1 || echo \"@@failed $i\"; fi; "
            "i=$((i+1)); done")
    run = run_tool(dev, f"sh -c {shlex.quote('echo @@pid $$; ' + loop)}",
                   timeout_s=30 + SECONDS_PER_IMAGE_LIMIT * len(tensors))
    check_flags_taken(run.output, {*passed, "input_layer_value_files", "output_filepath"})
    if "Wrong input value file item specified" in run.output:  # TF 2.9 and older split on every `:`
        raise ToolFailedError(f"this benchmark_model cannot read the input name {name!r} in "
                              "--input_layer_value_files (no `::` escaping before TensorFlow 2.10); use a newer "
                              "build (python -m bench tools fetch), or score with --run-eval")
    failed = [line for line in run.output.splitlines() if line.startswith("@@failed")]
    if failed:
        first = failed[0].split()[-1]
        reason = next((line for line in run.output.splitlines() if "ERROR" in line or "rror:" in line), "")
        raise ToolFailedError(f"benchmark_model failed on {len(failed)} of {len(tensors)} images on the phone "
                              f"(first: image {first}{': ' + reason.strip()[:120] if reason else ''}); "
                              "run one by hand to see why")
    size = int(np.prod(output["shape"])) * np.dtype(output["dtype"]).itemsize
    top5 = np.empty((len(tensors), 5), np.int64)
    all_scores = []
    for i in range(len(tensors)):
        data = adb.read_file(dev, f"{folder}/out/{i}.raw", what=f"benchmark_model's output for image {i}")
        if len(data) != size:
            raise ToolFailedError(f"output {i} on the phone has {len(data)} bytes, the model's output has {size}")
        vector = scores(np.frombuffer(data, dtype=output["dtype"]), output)
        all_scores.append(vector)
        top5[i] = best_classes(vector, 5, accuracy.label_offset)
    adb.shell(dev, f"rm -rf {shlex.quote(folder)}/out")
    return top5, np.stack(all_scores), time.monotonic() - started
