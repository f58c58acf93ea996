"""`bench-run-eval`: LiteRT on this host behind the ImageNet `run_eval` tool's flags and output.

A simulated phone runs this as its `run_eval`, so the on-phone accuracy path (pushing images and
label files, the command line, parsing) runs for real against it. It takes run_eval's flags

    --model_file= --ground_truth_images_path= --ground_truth_labels= --model_output_labels=
    --output_file_path= --num_images= --num_interpreter_threads= --delegate= --denylist_file_path=

and does what the tool does: the images in file-name order, the i-th line of the ground-truth file
as the i-th image's label, run_eval's own preprocessing (central crop of 87.5% of each side,
bilinear resize to the model's input, float inputs scaled to (x - 127.5) / 127.5, uint8 as is, int8
minus 128), top-1..10 accuracy against the model's label file, and it prints the tool's summary
(`Num evaluation runs`, the two latency lines in microseconds, `Top-k Accuracy`). The metrics file is
written as the text proto older builds wrote (current builds write it binary). There is no GPU or
NNAPI on the host: asked for one, it says so and runs on the CPU.
"""

from __future__ import annotations

import argparse
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
    return parser.parse_args(argv)


def _say(line: str) -> None:
    print(f"INFO: {line}", flush=True)


def _error(line: str) -> int:
    print(f"ERROR: {line}", flush=True)
    return 1


def preprocess(path: Path, detail: dict[str, Any]) -> np.ndarray:
    """run_eval's ImageNet preprocessing, for one image, as the model's input tensor (1, H, W, 3)."""
    from PIL import Image

    height, width = int(detail["shape"][1]), int(detail["shape"][2])
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    crop_w, crop_h = round(rgb.width * CROP_FRACTION), round(rgb.height * CROP_FRACTION)
    left, top = (rgb.width - crop_w) // 2, (rgb.height - crop_h) // 2
    resized = rgb.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.uint8)[None]
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return ((pixels.astype(np.float32) - 127.5) / 127.5).astype(np.float32)
    if dtype == np.int8:
        return (pixels.astype(np.int16) - 128).astype(np.int8)
    return pixels


def _lines(path: str) -> list[str] | None:
    try:
        return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError:
        return None


def _metrics_text(runs: int, pre_us: list[float], inf_us: list[float], topk: list[float]) -> str:
    def latency(name: str, values: list[float]) -> str:
        return (f"    {name} {{\n      last_us: {values[-1]:.0f}\n      max_us: {max(values):.0f}\n"
                f"      min_us: {min(values):.0f}\n      sum_us: {sum(values):.0f}\n"
                f"      avg_us: {np.mean(values)}\n    }}\n")

    accuracies = "".join(f"      topk_accuracies: {v}\n" for v in topk)
    return (f"num_runs: {runs}\nprocess_metrics {{\n  image_classification_metrics {{\n"
            f"{latency('pre_processing_latency', pre_us)}{latency('inference_latency', inf_us)}"
            f"    inference_metrics {{\n      num_inferences: {runs}\n    }}\n"
            f"    topk_accuracy_metrics {{\n{accuracies}    }}\n  }}\n}}\n")


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
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if int(np.prod(output["shape"])) != len(model_labels):
        return _error(f"Number of model output labels ({len(model_labels)}) does not match the model's output size "
                      f"({int(np.prod(output['shape']))})")
    index = {label: i for i, label in enumerate(model_labels)}
    hits = np.zeros(TOP_K)
    pre_us: list[float] = []
    inf_us: list[float] = []
    for image, label in pairs:
        started = time.perf_counter()
        try:
            tensor = preprocess(image, detail)
        except OSError:
            return _error(f"Could not decode image {image.name}")
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
        Path(args.output_file_path).write_text(_metrics_text(len(pairs), pre_us, inf_us, topk))
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
