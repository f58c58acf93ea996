"""`bench-run-eval`: LiteRT on this host behind the ImageNet `run_eval` tool's flags and output.

A simulated phone runs this as its `run_eval`, so the on-phone accuracy path (pushing images and
label files, the command line, parsing) runs for real against it. It takes run_eval's flags

    --model_file= --ground_truth_images_path= --ground_truth_labels= --model_output_labels=
    --output_file_path= --num_images= --num_interpreter_threads= --delegate= --denylist_file_path=

and does what the tool does (LiteRT tools/evaluation: image_classification_stage.cc,
image_preprocessing_stage.cc, run_eval.cc): one input shaped {1, H, W, 3} and one output, else it
refuses; the images in file-name order, .jpg/.jpeg only (.rgb8 and others refused), the i-th line
of the ground-truth file as the i-th image's label; its preprocessing: a square central crop of
round(0.875 * the shorter side), bilinear resize in floats without half-pixel centres or aligned
corners, float inputs (x - 127.5) / 127.5, uint8 and int8 (x - 128) truncated toward zero; top-1..10
accuracy against the model's label file; the tool's summary (`Num evaluation runs`, the two latency
lines in microseconds, `Top-k Accuracy`); and the metrics file as the binary EvaluationStageMetrics
proto it serialises. There is no GPU or NNAPI on the host: asked for one, it says so and runs on the CPU.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

TOP_K = 10
CROP_FRACTION = 0.875


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench-run-eval", description=__doc__.splitlines()[0])
    for flag in ("model_file", "ground_truth_images_path", "ground_truth_labels", "model_output_labels"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--output_file_path", default="")
    parser.add_argument("--denylist_file_path", default="")
    parser.add_argument("--num_images", type=int, default=0)
    parser.add_argument("--num_interpreter_threads", type=int, default=1)
    parser.add_argument("--delegate", default="")
    parser.add_argument("--use_xnnpack", default="")  # one of the delegate providers' flags it also takes
    return parser.parse_args(argv)


def _say(line: str) -> None:
    print(f"INFO: {line}", flush=True)


def _error(line: str) -> int:
    print(f"ERROR: {line}", flush=True)
    return 1


def _round(x: float) -> int:
    """C's round(): halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """TFLite's reference ResizeBilinear, align_corners and half_pixel_centers both false, in float32."""
    in_h, in_w = image.shape[:2]
    ys = np.arange(height, dtype=np.float32) * np.float32(in_h / height)
    xs = np.arange(width, dtype=np.float32) * np.float32(in_w / width)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    dy, dx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = image[y0][:, x0] * (1 - dx) + image[y0][:, x1] * dx
    bottom = image[y1][:, x0] * (1 - dx) + image[y1][:, x1] * dx
    return np.asarray(top * (1 - dy) + bottom * dy, dtype=np.float32)


def preprocess(path: Path, detail: dict[str, Any]) -> np.ndarray:
    """run_eval's ImageNet preprocessing, for one image, as the model's input tensor (1, H, W, 3)."""
    from PIL import Image

    height, width = int(detail["shape"][1]), int(detail["shape"][2])
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    in_h, in_w = rgb.shape[:2]
    side = min(_round(CROP_FRACTION * in_h), _round(CROP_FRACTION * in_w))  # square_cropping
    top, left = _round((in_h - side) / 2.0), _round((in_w - side) / 2.0)
    pixels = resize_bilinear(rgb[top:top + side, left:left + side], height, width)[None]
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return np.asarray((pixels - 127.5) / 127.5, dtype=np.float32)
    if dtype == np.int8:
        return np.asarray(np.trunc(pixels - 128.0), dtype=np.int8)
    return np.asarray(np.trunc(pixels), dtype=np.uint8)


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, payload: bytes) -> bytes:  # a length-delimited field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def metrics_proto(runs: int, pre_us: list[float], inf_us: list[float], topk: list[float]) -> bytes:
    """EvaluationStageMetrics{num_runs=1, process_metrics=2{image_classification_metrics=4{...}}}, serialised
    (evaluation_config.proto, evaluation_stages.proto)."""
    def latency(values: list[float]) -> bytes:
        return (_int(1, int(values[-1])) + _int(2, int(max(values))) + _int(3, int(min(values)))
                + _int(4, int(sum(values))) + _varint(5 << 3 | 1) + struct.pack("<d", float(np.mean(values)))
                + _int(6, int(np.std(values))))

    accuracies = _field(1, struct.pack(f"<{len(topk)}f", *topk))  # packed repeated float
    classification = (_field(1, latency(pre_us)) + _field(2, latency(inf_us)) + _field(3, _int(1, runs))
                      + _field(4, accuracies))
    return _int(1, runs) + _field(2, _field(4, classification))


def _lines(path: str) -> list[str] | None:
    try:
        return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError:
        return None


def run(args: argparse.Namespace) -> int:
    from ai_edge_litert.interpreter import Interpreter

    folder = Path(args.ground_truth_images_path.rstrip("/"))
    if not folder.is_dir():
        return _error(f"Could not read directory {folder}")
    images = sorted(p for p in folder.iterdir() if p.is_file())
    truth = _lines(args.ground_truth_labels)
    if truth is None:
        return _error("Could not read ground truth labels file")
    if len(images) != len(truth):
        return _error("Number of images and ground truth labels is not same")
    pairs = list(zip(images, truth, strict=True))
    denied = set(int(v) for v in _lines(args.denylist_file_path) or []) if args.denylist_file_path else set()
    pairs = [pair for index, pair in enumerate(pairs, start=1) if index not in denied]
    if args.num_images > 0:
        pairs = pairs[:args.num_images]
    model_labels = _lines(args.model_output_labels)
    if model_labels is None:
        return _error("Could not read model output labels file")
    if args.delegate in ("gpu", "nnapi", "hexagon"):
        print(f"WARNING: {args.delegate.upper()} acceleration is unsupported on this platform.", flush=True)
    try:
        interpreter = Interpreter(model_path=args.model_file, num_threads=max(1, args.num_interpreter_threads))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        return _error(f"Could not evaluate model ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    if len(interpreter.get_input_details()) != 1 or len(interpreter.get_output_details()) != 1:
        return _error("Model must have 1 input & 1 output")
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    shape = list(detail["shape"])
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return _error("Invalid input shape for model")
    if int(np.prod(output["shape"])) != len(model_labels):
        return _error(f"Number of model output labels ({len(model_labels)}) does not match the model's output size "
                      f"({int(np.prod(output['shape']))})")
    index = {label: i for i, label in enumerate(model_labels)}
    hits = np.zeros(TOP_K)
    pre_us: list[float] = []
    inf_us: list[float] = []
    for image, label in pairs:
        started = time.perf_counter()
        if image.suffix.lower() not in (".jpg", ".jpeg"):  # .rgb8 needs a target size this task never sets
            return _error(f"Extension {image.suffix.lower()} is not supported")
        try:
            tensor = preprocess(image, detail)
        except OSError:
            return _error(f"Failed to uncompress JPEG image file: {image}")
        pre_us.append((time.perf_counter() - started) * 1e6)
        interpreter.set_tensor(detail["index"], tensor)
        started = time.perf_counter()
        interpreter.invoke()
        inf_us.append((time.perf_counter() - started) * 1e6)
        values = interpreter.get_tensor(output["index"]).reshape(-1).astype(np.float32)
        ranked = np.argsort(-values, kind="stable")[:TOP_K]
        if label in index:
            where = np.nonzero(ranked == index[label])[0]
            if where.size:
                hits[where[0]:] += 1
    if not pairs:
        return _error("No images to evaluate")
    topk = [float(v) for v in hits / len(pairs)]
    if args.output_file_path:
        Path(args.output_file_path).write_bytes(metrics_proto(len(pairs), pre_us, inf_us, topk))
    _say(f"Num evaluation runs: {len(pairs)}")
    _say(f"Preprocessing latency: avg={np.mean(pre_us):g}(us), std_dev={np.std(pre_us):.0f}(us)")
    _say(f"Inference latency: avg={np.mean(inf_us):g}(us), std_dev={np.std(inf_us):.0f}(us)")
    for k, value in enumerate(topk, start=1):
        _say(f"Top-{k} Accuracy: {value:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
