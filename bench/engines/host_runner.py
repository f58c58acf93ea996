"""Time a `.tflite` model on this host with LiteRT, the way `benchmark_model` does.

Run as its own process (`python -m bench.engines.host_runner --graph M.tflite ...`) so that its
memory numbers belong to this one model. The method follows `benchmark_model`:

- init: load the model and allocate tensors (with the XNNPACK delegate applied, when on);
- warm-up: at least `--warmup_runs` runs and at least `--warmup_min_secs` seconds; the first of
  them is the first inference;
- timed runs: until both `--num_runs` runs and `--min_secs` seconds are reached, but never past
  `--max_secs`;
- inputs are seeded random values of each input's type, as `benchmark_model` fills them.

It prints one JSON document on stdout: every latency, not only a summary, and peak memory read
from /proc/self/status (VmHWM, the peak resident set, which includes the mapped model file and the
runtime's libraries) after init and after the timed runs (before any accuracy pass).

With `--classify_inputs PIXELS.npy --classify_output TOP5.npy` it then runs the same interpreter
(same threads, same delegate) over every preprocessed image and writes each image's five best
classes, timing the invokes apart from the input handling.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.engines.loop import add_loop_flags, loop_from_flags, timed_runs, warm_up

RUNNER_FORMAT = 1


def _vm_kb(field: str) -> int | None:
    """Read a `Vm*` line of /proc/self/status, in kB (Linux); None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    hwm = _vm_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def random_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    shape = tuple(int(s) for s in detail["shape"])
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rss_start_mb = peak_rss_mb()
    resolver = OpResolverType.AUTO if args.use_xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    init_start = time.perf_counter()
    interpreter = Interpreter(model_path=str(args.graph), num_threads=args.num_threads,
                              experimental_op_resolver_type=resolver)
    if args.input_shape:
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], args.input_shape, strict=True)
    interpreter.allocate_tensors()
    init_ms = (time.perf_counter() - init_start) * 1000.0
    rss_after_init_mb = peak_rss_mb()

    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], random_input(detail, rng))
    loop = loop_from_flags(args)
    warmup_ms = warm_up(interpreter.invoke, loop)
    starts_s: list[float] = []
    timed_start = time.perf_counter()
    latencies_ms = timed_runs(interpreter.invoke, loop, starts_s)
    timed_s = time.perf_counter() - timed_start
    # read before the accuracy pass, whose image buffers are not the model's memory
    timed_peak_mb = peak_rss_mb()
    inputs = interpreter.get_input_details()
    classify = _classify(interpreter, args) if args.classify_inputs else None
    return {
        "runner_format": RUNNER_FORMAT,
        # a forked runner's peak RSS counts only the runtime pages it touches (~14 MB less than a
        # fresh process for EfficientNet-Lite0): the two are different engines, never compared silently
        "engine": "litert-host/forked" if args.forked else "litert-host",
        "engine_version": metadata.version("ai-edge-litert"),
        "graph": str(args.graph),
        "model_size_bytes": args.graph.stat().st_size,
        "threads": args.num_threads,
        "accelerator": "xnnpack" if args.use_xnnpack else "none",
        "input_shapes": [[int(s) for s in d["shape"]] for d in inputs],
        "input_dtypes": [np.dtype(d["dtype"]).name for d in inputs],
        "init_ms": init_ms,
        "first_inference_ms": warmup_ms[0],
        "warmup_ms": warmup_ms,
        "latencies_ms": latencies_ms,
        "run_starts_s": starts_s,
        "timed_s": timed_s,
        "peak_rss_start_mb": rss_start_mb,
        "peak_rss_after_init_mb": rss_after_init_mb,
        "peak_rss_mb": timed_peak_mb,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
        "classify": classify,
    }


def run_frames(args: argparse.Namespace) -> dict[str, Any]:
    """Feed `--frames` frames through several models one after another; stage k runs on every
    `every`-th frame. A frame's latency is the sum of the stages it went through, back to back."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if args.use_xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    rng = np.random.default_rng(0)
    stages = []
    for spec in json.loads(args.stages):
        started = time.perf_counter()
        interpreter = Interpreter(model_path=str(spec["graph"]), num_threads=args.num_threads,
                                  experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        init_ms = (time.perf_counter() - started) * 1000.0
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], random_input(detail, rng))
        first = time.perf_counter()
        interpreter.invoke()  # its warm-up: the first inference is timed apart, as benchmark_model does
        stages.append({"graph": str(spec["graph"]), "every": int(spec["every"]), "interpreter": interpreter,
                       "init_ms": init_ms, "first_inference_ms": (time.perf_counter() - first) * 1000.0,
                       "latencies_ms": []})
    rss_after_init_mb = peak_rss_mb()
    frames_ms: list[float] = []
    starts_s: list[float] = []
    timed_start = time.perf_counter()
    for frame in range(args.frames):
        if args.run_frequency_hz > 0:
            wait = timed_start + frame / args.run_frequency_hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        began = time.perf_counter()
        for stage in stages:
            if frame % stage["every"] == 0:
                before = time.perf_counter()
                stage["interpreter"].invoke()
                stage["latencies_ms"].append((time.perf_counter() - before) * 1000.0)
        frames_ms.append((time.perf_counter() - began) * 1000.0)
        starts_s.append(began - timed_start)
    timed_s = time.perf_counter() - timed_start
    first_inputs = stages[0]["interpreter"].get_input_details()
    return {
        "runner_format": RUNNER_FORMAT, "engine": "litert-host/frames" + ("/forked" if args.forked else ""),
        "engine_version": metadata.version("ai-edge-litert"), "graph": stages[0]["graph"],
        "model_size_bytes": sum(Path(s["graph"]).stat().st_size for s in stages), "threads": args.num_threads,
        "accelerator": "xnnpack" if args.use_xnnpack else "none",
        "input_shapes": [[int(v) for v in d["shape"]] for d in first_inputs],
        "init_ms": sum(s["init_ms"] for s in stages),
        "first_inference_ms": sum(s["first_inference_ms"] for s in stages), "warmup_ms": [],
        "latencies_ms": frames_ms, "run_starts_s": starts_s, "timed_s": timed_s,
        "peak_rss_after_init_mb": rss_after_init_mb, "peak_rss_mb": peak_rss_mb(), "pid": os.getpid(),
        "stages": [{k: v for k, v in s.items() if k != "interpreter"} for s in stages],
    }


def _classify(interpreter: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Score every image of `--classify_inputs`; write (N, 5) class indices to `--classify_output`."""
    from bench.engines.litert_classify import best_classes, pixel_normalizer, scores, to_input

    pixels = np.load(args.classify_inputs, mmap_mode="r")
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"][1:3]) != tuple(pixels.shape[1:3]):
        raise ValueError(f"model input {list(detail['shape'])} does not fit images of {list(pixels.shape[1:3])}")
    output = interpreter.get_output_details()[0]
    normalize = pixel_normalizer(args.mean, args.std)

    def prepared(i: int) -> np.ndarray:
        return to_input(np.asarray(pixels[i : i + 1]), detail, normalize)

    top5 = np.empty((len(pixels), 5), np.int64)
    invoke_s = 0.0
    start = time.perf_counter()
    # The next image is converted on a helper thread while the interpreter (which releases the GIL)
    # runs the current one, so input handling does not add to inference time.
    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = helper.submit(prepared, 0) if len(pixels) else None
        for i in range(len(pixels)):
            assert pending is not None
            tensor = pending.result()
            if i + 1 < len(pixels):
                pending = helper.submit(prepared, i + 1)
            interpreter.set_tensor(detail["index"], tensor)
            before = time.perf_counter()
            interpreter.invoke()
            invoke_s += time.perf_counter() - before
            top5[i] = best_classes(scores(interpreter.get_tensor(output["index"])[0], output), 5, args.label_offset)
    wall_s = time.perf_counter() - start
    np.save(args.classify_output, top5)
    return {"images": len(pixels), "invoke_s": invoke_s, "wall_s": wall_s, "output": str(args.classify_output),
            "peak_rss_mb": peak_rss_mb()}


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _shape(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a shape like 1,160,160,3, got {text!r}") from exc


def _floats(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 127,127,127, got {text!r}") from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.engines.host_runner", description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=None)
    parser.add_argument("--stages", default=None, help='instead of --graph, models fed frame by frame: '
                        '[{"graph": PATH, "every": N}, ...]')
    parser.add_argument("--frames", type=int, default=300, help="with --stages: frames to feed")
    parser.add_argument("--num_threads", type=int, default=1)
    add_loop_flags(parser)
    parser.add_argument("--use_xnnpack", type=_bool, default=True)
    parser.add_argument("--input_shape", type=_shape, default=None, help="resize a dynamic input, e.g. 1,160,160,3")
    parser.add_argument("--classify_inputs", type=Path, default=None, help="uint8 (N, H, W, 3) .npy of images")
    parser.add_argument("--classify_output", type=Path, default=None, help="where to write (N, 5) top classes")
    parser.add_argument("--mean", type=_floats, default=None, help="normalise pixels: (x - mean) / std")
    parser.add_argument("--std", type=_floats, default=None)
    parser.add_argument("--label_offset", type=int, default=0, help="1 for models with a background class")
    parser.add_argument("--forked", action="store_true", help=argparse.SUPPRESS)  # set by bench.engines.fork_server
    args = parser.parse_args(argv)
    if bool(args.classify_inputs) != bool(args.classify_output) or (args.mean is None) != (args.std is None):
        parser.error("--classify_inputs goes with --classify_output, and --mean with --std")
    if (args.graph is None) == (args.stages is None):
        parser.error("give either --graph or --stages")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run_frames(args) if args.stages else run(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(json.dumps({"runner_format": RUNNER_FORMAT, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}))
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
