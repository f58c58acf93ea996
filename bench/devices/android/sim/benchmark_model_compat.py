"""`bench-benchmark-model`: LiteRT on this host behind `benchmark_model`'s flags and output format.

A simulated phone (x86_64) runs this as its `benchmark_model`, so the Android path (push, command
line, streaming, parsing) runs for real against it. It takes the flags bench sends a phone:

    --graph= --num_threads= --num_runs= --warmup_runs= --min_secs= --max_secs= --warmup_min_secs=
    --use_xnnpack= --use_gpu= --use_nnapi= --nnapi_accelerator_name= --input_layer= --input_layer_shape=
    --report_peak_memory_footprint= --enable_op_profiling= --input_layer_value_files= --output_filepath=

and is as strict as the tool about inputs: `--input_layer_shape` and `--input_layer_value_files`
need the input named in `--input_layer` (one shape per name), and a name holding `:` is written
`::` in `--input_layer_value_files` (`serving_default_x::0:/path/file.raw`).

and prints what `benchmark_model` prints (current format, `INFO:` prefixes; times in microseconds):
the parameters, delegate lines, `count=` statistics of the warm-up and timed runs, the `Inference
timings in us` summary, and memory as deltas of the peak resident set from the tool's start. There
is no GPU or NNAPI on the host: asked for one, it says so the way `benchmark_model` does and runs on
the CPU. Only what was measured is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.engines.host_runner import peak_rss_mb, random_input
from bench.engines.loop import add_loop_flags, loop_from_flags, timed_runs, warm_up


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench-benchmark-model", description=__doc__.splitlines()[0])
    parser.add_argument("--graph", required=True)
    parser.add_argument("--num_threads", type=int, default=-1)
    add_loop_flags(parser)
    parser.add_argument("--use_xnnpack", type=_bool, default=True)
    parser.add_argument("--use_gpu", type=_bool, default=False)
    parser.add_argument("--use_nnapi", type=_bool, default=False)
    parser.add_argument("--nnapi_accelerator_name", default="")
    parser.add_argument("--input_layer", default="")
    parser.add_argument("--input_layer_shape", default="")
    parser.add_argument("--report_peak_memory_footprint", type=_bool, default=False)
    parser.add_argument("--enable_op_profiling", type=_bool, default=False)
    parser.add_argument("--input_layer_value_files", default="")
    parser.add_argument("--output_filepath", default="")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parser().parse_args(argv)


_TYPE_NAMES = {int: "int32", float: "float", _bool: "bool"}


def usage(program: str, old: bool) -> str:
    """What `benchmark_model --help` prints: TFLite's `Flags::Usage`, one `\t--name=default\ttype\toptional\t
    text` line per flag the tool takes (LiteRT tflite/tools/command_line_flags.cc); TF 2.9's has no
    --output_filepath."""
    rows = []
    for action in parser()._actions:
        name = action.option_strings[0].removeprefix("--")
        if action.dest == "help" or (old and name == "output_filepath"):
            continue
        default = "" if action.default is None else action.default
        shown = str(default).lower() if isinstance(default, bool) else f"{default:g}" if isinstance(
            default, float) else str(default)
        rows.append((f"--{name}={shown}", _TYPE_NAMES.get(action.type, "string"), action.help or ""))
    width = max(len(row[0]) for row in rows)
    lines = [f"usage: {program} <flags>", "Flags:"]
    lines += [f"\t{flag:<{width}}\t{kind}\toptional\t{text}" for flag, kind, text in rows]
    return "\n".join(lines)


def _say(line: str) -> None:
    print(f"INFO: {line}", flush=True)


def _count_line(times_ms: list[float], with_first: bool = True) -> str:
    us = np.asarray(times_ms) * 1000.0
    if len(us) == 1:
        return f"count=1 curr={us[0]:.0f} p5={us[0]:.0f} median={us[0]:.0f} p95={us[0]:.0f}"
    std = math.sqrt(max(0.0, float(np.mean(us ** 2) - np.mean(us) ** 2)))  # the tool's population std
    p5, median, p95 = (float(np.percentile(us, q, method="lower")) for q in (5, 50, 95))
    first = f"first={us[0]:.0f} " if with_first else ""
    return (f"count={len(us)} {first}curr={us[-1]:.0f} min={us.min():.0f} max={us.max():.0f} avg={np.mean(us):g} "
            f"std={std:.0f} p5={p5:.0f} median={median:.0f} p95={p95:.0f}")


class InputError(ValueError):
    """The input flags do not fit together, as benchmark_model would refuse them."""


def input_layers(names: str, shapes: str, files: str,
                 escaped_colons: bool = True) -> dict[str, tuple[list[int] | None, str | None]]:
    """`--input_layer`, `--input_layer_shape`, `--input_layer_value_files` -> {name: (shape, file)}.

    A name in the files map writes `:` as `::`: `input::0:/data/x.raw` is input `input:0`. Older
    tools (`escaped_colons=False`, TF 2.9) split each item on every `:` and want exactly two parts.
    """
    listed = [n for n in names.split(",") if n]
    shape_items = [s for s in shapes.split(":") if s]
    if len(listed) != len(shape_items) and (listed or shape_items):
        raise InputError(f"The number of items in --input_layer_shape ({shapes}, with {len(shape_items)} items) must "
                         f"match the number of items in --input_layer ({names}, with {len(listed)} items).")
    layers: dict[str, tuple[list[int] | None, str | None]] = {
        name: ([int(d) for d in shape.split(",")], None) for name, shape in zip(listed, shape_items, strict=True)}
    for item in (i for i in files.split(",") if i):
        parts = item.replace("::", "\0").split(":") if escaped_colons else item.split(":")
        if len(parts) != 2:
            raise InputError(f"Wrong input value file item specified: {item}")
        name, path = parts[0].replace("\0", ":"), parts[1].replace("\0", ":")
        if name not in layers:
            raise InputError(f"Cannot find the corresponding input_layer name({name}) in --input_layer as {names}")
        layers[name] = (layers[name][0], path)
    return layers


def _feed_files(interpreter: Any, layers: dict[str, tuple[list[int] | None, str | None]]) -> None:
    """Fill each input that has a file with its raw bytes, as the tool reads them."""
    for detail in interpreter.get_input_details():
        _, path = layers.get(str(detail["name"]), (None, None))
        if path:
            data = np.fromfile(path, dtype=detail["dtype"])
            interpreter.set_tensor(detail["index"], data.reshape(detail["shape"]))


def sim_faults() -> tuple[Path | None, dict[str, Any]]:
    """A simulated phone's sandbox (SIM_ROOT) and its faults file; (None, {}) elsewhere."""
    import json

    root = os.environ.get("SIM_ROOT")
    if not root:
        return None, {}
    try:
        return Path(root), dict(json.loads((Path(root) / ".sim" / "faults.json").read_text()))
    except (OSError, ValueError):
        return Path(root), {}


def tool_version() -> str:
    """The benchmark_model a simulated phone's profile has: "current", or "2.9" (an older release)."""
    root, _ = sim_faults()
    try:
        return (root / ".sim" / "benchmark_model_version").read_text().strip() if root else "current"
    except OSError:
        return "current"


def hang_in_invoke() -> int | None:
    """A simulated phone's `hang_in_invoke` fault: the inference (counting from 1) that never returns."""
    value = sim_faults()[1].get("hang_in_invoke")
    return int(value) if value else None


def invoke_delay_s() -> float:
    """A simulated phone's `invoke_delay_ms` fault, in seconds."""
    return float(sim_faults()[1].get("invoke_delay_ms") or 0.0) / 1000.0


def _heating() -> Any:
    """A simulated phone that heats as it computes (bench.devices.android.sim.heating), or None."""
    root, faults = sim_faults()
    if root is None or not faults.get("heating"):
        return None
    from bench.devices.android.sim.heating import Heating

    return Heating.from_faults(root, faults)


def _one_core() -> Any:
    """A simulated phone with the `one_core` fault computes one inference at a time, whichever tool asks: two
    tools launched together wait for each other, as on a phone whose big cores are all taken."""
    root, faults = sim_faults()
    return _OneCore(root / ".sim" / "cpu.lock") if root is not None and faults.get("one_core") else \
        contextlib.nullcontext()


class _OneCore:
    """The phone's one core: an exclusive lock held for each inference."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a")

    def __enter__(self) -> None:
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        # A phone's scheduler shares a core between two busy tools; flock alone is unfair (the releaser can take
        # it straight back before the woken waiter runs), so the releaser steps aside for a moment.
        time.sleep(0.002)


def run(args: argparse.Namespace) -> int:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    start_mb = peak_rss_mb()
    old = tool_version() == "2.9"
    print("STARTING!", flush=True) if old else _say("STARTING!")
    if old and args.output_filepath:  # TF 2.9's flag parser leaves flags it does not know, warns and goes on
        print(f"Unconsumed cmdline flags: --output_filepath={args.output_filepath}", flush=True)
        args.output_filepath = ""
    _say("Log parameter values verbosely: [0]")
    _say(f"Min num runs: [{args.num_runs}]")
    _say(f"Num threads: [{args.num_threads}]")
    _say(f"Min warmup runs: [{args.warmup_runs}]")
    _say(f"Graph: [{args.graph}]")
    _say(f"Use xnnpack: [{int(args.use_xnnpack)}]")
    if args.use_gpu:
        _say("Use gpu: [1]")
    if args.use_nnapi:
        _say("Use NNAPI: [1]")
    if args.enable_op_profiling:
        _say("Enable op profiling: [1]")
        # LiteRT's Python API has no per-operator profiler: say so instead of printing made-up tables
        print("WARNING: bench-benchmark-model cannot profile operators (LiteRT's Python API has no op profiler); "
              "no operator tables follow.", flush=True)
    try:
        layers = input_layers(args.input_layer, args.input_layer_shape, args.input_layer_value_files,
                              escaped_colons=not old)
    except (InputError, ValueError) as exc:
        print(f"ERROR: {exc}", flush=True)
        print("Benchmarking failed.", flush=True)
        return 1
    if not Path(args.graph).is_file():
        print(f"ERROR: Could not open '{args.graph}'.", flush=True)
        print("ERROR: Failed to mmap model " + args.graph, flush=True)
        print("Benchmarking failed.", flush=True)
        return 1
    _say(f"Loaded model {args.graph}")
    for name, asked in (("GPU", args.use_gpu), ("NNAPI", args.use_nnapi)):
        if asked:
            print(f"WARNING: {name} acceleration is unsupported on this platform.", flush=True)
    resolver = OpResolverType.AUTO if args.use_xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    init_start = time.perf_counter()
    try:
        interpreter = Interpreter(model_path=args.graph, num_threads=max(1, args.num_threads),
                                  experimental_op_resolver_type=resolver)
        unknown = set(layers) - {str(d["name"]) for d in interpreter.get_input_details()}
        if unknown:
            raise ValueError(f"Cannot find input layer(s) {sorted(unknown)} in the model's inputs")
        for detail in interpreter.get_input_details():
            shape, _ = layers.get(str(detail["name"]), (None, None))
            if shape is not None:
                interpreter.resize_tensor_input(detail["index"], shape, strict=True)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        print(f"ERROR: {str(exc).splitlines()[0]}", flush=True)
        print("Benchmarking failed.", flush=True)
        return 1
    init_us = (time.perf_counter() - init_start) * 1e6
    init_mb = peak_rss_mb()
    # Said here rather than left to LiteRT's own log, which TF_CPP_MIN_LOG_LEVEL may silence: a DELEGATE
    # node in the graph is the proof that XNNPACK took part of it (how much, LiteRT's Python API does not say).
    if any(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details()):
        _say("Created TensorFlow Lite XNNPACK delegate for CPU.")
    _say(f"The input model file size (MB): {os.path.getsize(args.graph) / 1e6:g}")
    _say(f"Initialized session in {init_us / 1000:g}ms.")
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], random_input(detail, rng))
    _feed_files(interpreter, layers)
    _say(f"Running benchmark for at least {args.warmup_runs} iterations and at least {args.warmup_min_secs:g} "
         f"seconds but terminate if exceeding {args.max_secs:g} seconds.")
    delay = invoke_delay_s()
    heating = _heating()
    one_core = _one_core()
    hang_at, invokes = hang_in_invoke(), [0]

    def invoke() -> None:
        invokes[0] += 1
        if invokes[0] == hang_at:  # deadlocked: prints nothing more, never exits on its own
            root, _ = sim_faults()
            if root is not None:  # when it stopped, for benchmarks/hang_to_kill.py
                (root / ".sim" / "hung_at").write_text(f"{time.time():.3f}")
            while True:
                time.sleep(3600)
        with one_core:
            started = time.perf_counter()
            interpreter.invoke()
            if delay:
                time.sleep(delay)
            if heating is not None:
                heating.after(time.perf_counter() - started)

    loop = loop_from_flags(args)
    warmup = warm_up(invoke, loop)
    _say(_count_line(warmup))
    _say(f"Running benchmark for at least {args.num_runs} iterations and at least {args.min_secs:g} seconds but "
         f"terminate if exceeding {args.max_secs:g} seconds.")
    timed = timed_runs(invoke, loop)
    _say(_count_line(timed))
    if heating is not None:
        heating.publish()
    if args.output_filepath:
        output = interpreter.get_output_details()[0]
        interpreter.get_tensor(output["index"]).tofile(args.output_filepath)
    _say(f"Inference timings in us: Init: {init_us:.0f}, First inference: {warmup[0] * 1000:.0f}, "
         f"Warmup (avg): {np.mean(warmup) * 1000:g}, Inference (avg): {np.mean(timed) * 1000:g}")
    overall_mb = peak_rss_mb()
    _say("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the "
         "actual memory footprint of the model at runtime. Take the information at your discretion.")
    _say(f"Memory footprint delta from the start of the tool (MB): init={init_mb - start_mb:g} "
         f"overall={overall_mb - start_mb:g}")
    if args.report_peak_memory_footprint:
        _say(f"Overall peak memory footprint (MB) via periodic monitoring: {overall_mb:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--help"] or "--help=true" in argv:  # Flags::Parse refuses a leading --help: usage, exit 1
        print("ERROR: " + usage("benchmark_model", tool_version() == "2.9"), file=sys.stderr, flush=True)
        print("ERROR: Benchmarking failed.", file=sys.stderr, flush=True)
        return 1
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
