"""Read what `benchmark_model`, the benchmark APK (logcat), `run_eval` and `inference_diff` print.

One parser for every dialect seen in the wild: `INFO:` / `VERBOSE:` / `ERROR:` prefixes and logcat
prefixes (`I tflite  : `, `I/tflite: `, `... tflite  : `); the current summary line

    Inference timings in us: Init: 870557, First inference: 130565, Warmup (avg): 122373, Inference (avg): 119375

and the legacy one (`Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9`);
`count=` statistic lines (all in microseconds, `avg` sometimes in scientific notation, with or
without `first=`, `min=`/`max=`, percentiles); the memory lines (`Memory footprint delta from the
start of the tool (MB): init=.. overall=..`, older `Peak memory footprint (MB): ...`, periodic
`Overall peak memory footprint (MB) via periodic monitoring: ..`); delegate lines (created,
applied fully / partially / not at all, `Replacing N out of M node(s) ... yielding P partitions`,
`63 operations will run on the GPU, and the remaining 1 operations will run on the CPU`, failures);
the op profiler's tables (`bench.engines.op_profile`); and `Benchmarking failed.`. Numbers the text
does not give stay None: nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bench.engines.op_profile import SUBGRAPH_TOTAL, OpProfile, OpProfileReader
from bench.errors import ResultFormatError

US_PER_MS = 1000.0
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# logcat ("I tflite  : ", "I/tflite: ", "... tflite  : ", "11-27 10:00:00.000  123  456 I tflite  : ")
# then the tool's own level prefix; both may repeat ("tflite  : tflite  :   accuracy: ok").
_PREFIX = re.compile(r"^(?:(?:.*?\btflite\s*:\s*)|(?:(?:INFO|VERBOSE|ERROR|WARNING|DEBUG|[VDIWEF])\s*:\s+))+")
_ERROR_LINE = re.compile(r"^(?:ERROR:|E/tflite|E tflite|.*\sE tflite\s*:)")
_COUNT = re.compile(r"(?:^|\s|:\s*)count=(\d+)((?:\s+\w+=" + _NUMBER + r")*)")
_PAIR = re.compile(r"(\w+)=(" + _NUMBER + r")")
_HEADER = re.compile(r"Running benchmark for at least (\d+) iterations")
_SUMMARY = re.compile(r"(?:Average inference timings|Inference timings) in us:\s*(.*)")
_SESSION = re.compile(r"Initialized session in (" + _NUMBER + r")\s*ms")
_MODEL_SIZE = re.compile(r"The input model file size \(MB\):\s*(" + _NUMBER + ")")
_MEMORY = re.compile(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):"
                     r"\s*init=(" + _NUMBER + r")\s+overall=(" + _NUMBER + ")")
_PERIODIC = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring:\s*(" + _NUMBER + ")")
_CREATED = re.compile(r"Created TensorFlow Lite (?:(\w+) delegate for (\w+)|delegate for (\w+))")
_APPLIED = re.compile(r"Explicitly applied (\w+) delegate, and the model graph will be (completely|partially) "
                      r"executed by the delegate(?: w/ (\d+) delegate kernels)?")
_NOT_APPLIED = re.compile(r"Though (\w+) delegate is explicitly applied, the model graph will not be executed")
_REPLACING = re.compile(r"Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate \((\w+)\) node, "
                        r"yielding (\d+) partitions")
_GPU_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations? will run "
                        r"on the CPU")
_FAILED_APPLY = re.compile(r"Failed to apply (\w+) delegate")
_FAILED_PREPARE = re.compile(r"\((\w+)\) failed to prepare")
_UNSUPPORTED = re.compile(r"(\w+) acceleration is unsupported on this platform")
_EVAL_RUNS = re.compile(r"^(?:Num evaluation runs|num_runs):\s*(\d+)")
_EVAL_LATENCY = re.compile(r"^(Preprocessing|Inference|Reference run|Test run) latency: avg=(" + _NUMBER +
                           r")\(us\), std_dev=(" + _NUMBER + r")\(us\)")
_TOPK = re.compile(r"^Top-(\d+) Accuracy:\s*(" + _NUMBER + ")")
_TOPK_PROTO = re.compile(r"^topk_accuracies:\s*(" + _NUMBER + ")")
_AVG_US_PROTO = re.compile(r"^avg_us:\s*(" + _NUMBER + ")")
_AP = re.compile(r"^Average Precision \[IOU Threshold=(" + _NUMBER + r")\]:\s*(" + _NUMBER + ")")
_OUTPUT_DIFF = re.compile(r"^OutputDiff\[(\d+)\]: avg_error=(" + _NUMBER + r"), std_dev=(" + _NUMBER + ")")
_VERDICT = re.compile(r"Latency benchmark result for (.+): (PASS|FAIL\w*)")

# what the delegate kernels call themselves -> the name users pass on the command line
_DELEGATE_NAMES = {"tflitegpudelegatev2": "GPU", "tflitegpudelegate": "GPU", "tflitexnnpackdelegate": "XNNPACK",
                   "tflitennapidelegate": "NNAPI", "tflitehexagondelegate": "HEXAGON", "xnnpack": "XNNPACK",
                   "gpu": "GPU", "nnapi": "NNAPI", "hexagon": "HEXAGON", "coreml": "COREML"}


def _delegate_name(text: str) -> str:
    return _DELEGATE_NAMES.get(text.lower(), text.upper())


@dataclass(slots=True, kw_only=True)
class Stats:
    """One `count=` line, converted to milliseconds."""

    count: int
    first_ms: float | None = None
    curr_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    avg_ms: float | None = None
    std_ms: float | None = None
    p5_ms: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "first_ms": self.first_ms, "min_ms": self.min_ms, "max_ms": self.max_ms,
                "avg_ms": self.avg_ms, "std_ms": self.std_ms, "p5_ms": self.p5_ms, "median_ms": self.median_ms,
                "p95_ms": self.p95_ms}


@dataclass(slots=True, kw_only=True)
class Delegate:
    name: str
    status: str = "created"  # created | full | partial | applied (N nodes, total not printed) | none | failed
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    partitions: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "nodes_delegated": self.nodes_delegated,
                "nodes_total": self.nodes_total, "partitions": self.partitions}


@dataclass(slots=True, kw_only=True)
class ToolReport:
    """Everything one tool log says; None where it does not say."""

    tool: str  # benchmark_model | run_eval | inference_diff
    status: str = "ok"
    error: str | None = None
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_avg_ms: float | None = None
    inference_avg_ms: float | None = None
    warmup: Stats | None = None
    inference: Stats | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    memory_peak_mb: float | None = None
    model_size_mb: float | None = None
    delegates: list[Delegate] = field(default_factory=list)
    accuracy: dict[str, Any] | None = None
    eval_runs: int | None = None
    latencies: dict[str, dict[str, float]] = field(default_factory=dict)
    output_diffs: list[dict[str, float]] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    op_profile: OpProfile | None = None  # --enable_op_profiling: the timed runs' operator tables
    init_profile: OpProfile | None = None  # ... and the initialisation's

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "status": self.status, "error": self.error, "init_ms": self.init_ms,
            "first_inference_ms": self.first_inference_ms, "warmup_avg_ms": self.warmup_avg_ms,
            "inference_avg_ms": self.inference_avg_ms,
            "inference": self.inference.to_dict() if self.inference else None,
            "warmup": self.warmup.to_dict() if self.warmup else None,
            "memory": {"init_mb": self.memory_init_mb, "overall_mb": self.memory_overall_mb,
                       "peak_mb": self.memory_peak_mb},
            "model_size_mb": self.model_size_mb, "delegates": [d.to_dict() for d in self.delegates],
            "accuracy": self.accuracy, "eval_runs": self.eval_runs, "latencies_ms": self.latencies,
            "output_diffs": self.output_diffs, "verdicts": self.verdicts,
            "op_profile": self.op_profile.to_dict() if self.op_profile else None,
            "init_profile": self.init_profile.to_dict() if self.init_profile else None,
        }


def strip_prefix(line: str) -> str:
    """Drop logcat and log-level prefixes: `I tflite  : INFO: count=...` -> `count=...`."""
    return _PREFIX.sub("", line.strip(), count=1).strip()


def _stats(count: int, pairs: str) -> Stats:
    values = {k: float(v) / US_PER_MS for k, v in _PAIR.findall(pairs)}
    return Stats(count=count, first_ms=values.get("first"), curr_ms=values.get("curr"), min_ms=values.get("min"),
                 max_ms=values.get("max"), avg_ms=values.get("avg"), std_ms=values.get("std"),
                 p5_ms=values.get("p5"), median_ms=values.get("median"), p95_ms=values.get("p95"))


def _summary(text: str) -> dict[str, float]:
    """`Init: 870557, First inference: 130565, Warmup (avg): 1.2e+05` -> {"init": 870.557, ...} in ms."""
    out: dict[str, float] = {}
    for part in text.split(","):
        key, _, value = part.partition(":")
        try:
            out[key.strip().lower()] = float(value.strip()) / US_PER_MS
        except ValueError:
            continue
    return out


class _Delegates:
    def __init__(self) -> None:
        self.by_name: dict[str, Delegate] = {}

    def get(self, raw_name: str) -> Delegate:
        name = _delegate_name(raw_name)
        return self.by_name.setdefault(name, Delegate(name=name))

    def read(self, line: str) -> bool:
        if match := _CREATED.search(line):
            self.get(match.group(1) or match.group(3))
        elif match := _APPLIED.search(line):
            delegate = self.get(match.group(1))
            delegate.status = "full" if match.group(2) == "completely" else "partial"
            if match.group(3):
                delegate.partitions = int(match.group(3))
        elif match := _NOT_APPLIED.search(line):
            self.get(match.group(1)).status = "none"
        elif match := _REPLACING.search(line):
            delegate = self.get(match.group(3))
            delegate.nodes_delegated, delegate.partitions = int(match.group(1)), int(match.group(4))
            if match.group(2):
                delegate.nodes_total = int(match.group(2))
                if delegate.status == "created":
                    delegate.status = "full" if delegate.nodes_delegated == delegate.nodes_total else "partial"
            elif delegate.status == "created":
                # older tools print only `Replacing N node(s) with delegate (...)`: N nodes ran on the delegate,
                # out of a total they do not say
                delegate.status = "applied" if delegate.nodes_delegated else "none"
        elif match := _GPU_SPLIT.search(line):
            delegate = self.get("GPU")
            on_gpu, on_cpu = int(match.group(1)), int(match.group(2))
            delegate.nodes_delegated, delegate.nodes_total = on_gpu, on_gpu + on_cpu
            delegate.status = "full" if on_cpu == 0 else "partial"
        elif ((match := _FAILED_APPLY.search(line)) or (match := _FAILED_PREPARE.search(line))
              or (match := _UNSUPPORTED.search(line))):
            self.get(match.group(1)).status = "failed"
        else:
            return False
        return True


def parse_tool_output(text: str) -> ToolReport:
    """Parse one log; raise ResultFormatError when it is not output of a tool we know."""
    raw_lines = text.splitlines()
    lines = [strip_prefix(raw.split(" # ")[0]) for raw in raw_lines]
    report = ToolReport(tool="benchmark_model")
    delegates = _Delegates()
    profile = OpProfileReader()
    counts: list[tuple[int | None, Stats]] = []  # (iterations asked for by the preceding header, stats)
    header: int | None = None
    errors: list[str] = []
    topk: dict[int, float] = {}
    proto_topk: list[float] = []
    proto_avg_us: list[float] = []
    average_precision: dict[str, float] = {}
    recognised = failed = False
    for raw, line in zip(raw_lines, lines, strict=True):
        if not line:
            continue
        if _ERROR_LINE.match(raw.strip()) or line.startswith("Failed") or "failed to prepare" in line:
            errors.append(line)
        if match := _HEADER.search(line):
            header = int(match.group(1))
        elif line.startswith("Memory (bytes)"):  # the op profiler's allocation counter, not a timing
            continue
        elif line.startswith("Timings (microseconds):") and (match := _COUNT.search(line)):
            profile.read_total(_stats(int(match.group(1)), match.group(2)).to_dict())  # operator time, not latency
        elif (sub := SUBGRAPH_TOTAL.match(line)) and (match := _COUNT.search(sub.group(2))):
            profile.read_total(_stats(int(match.group(1)), match.group(2)).to_dict(), subgraph=int(sub.group(1)))
        elif profile.read(line):
            pass
        elif match := _COUNT.search(line):
            counts.append((header, _stats(int(match.group(1)), match.group(2))))
            header = None
        elif match := _SUMMARY.search(line):
            values = _summary(match.group(1))
            report.init_ms = values.get("init", report.init_ms)
            report.first_inference_ms = values.get("first inference", report.first_inference_ms)
            report.warmup_avg_ms = values.get("warmup (avg)", values.get("warmup", report.warmup_avg_ms))
            report.inference_avg_ms = values.get("inference (avg)", values.get("inference", report.inference_avg_ms))
        elif match := _SESSION.search(line):
            if report.init_ms is None:
                report.init_ms = float(match.group(1))
        elif match := _MODEL_SIZE.search(line):
            report.model_size_mb = float(match.group(1))
        elif match := _MEMORY.search(line):
            report.memory_init_mb, report.memory_overall_mb = float(match.group(1)), float(match.group(2))
        elif match := _PERIODIC.search(line):
            report.memory_peak_mb = float(match.group(1))
        elif delegates.read(line):
            pass
        elif line.startswith("Benchmarking failed"):
            failed = True
        elif match := _EVAL_RUNS.search(line):
            report.eval_runs = int(match.group(1))
        elif match := _EVAL_LATENCY.search(line):
            key = match.group(1).lower().replace(" run", "")
            report.latencies[key] = {"avg_ms": float(match.group(2)) / US_PER_MS,
                                     "std_ms": float(match.group(3)) / US_PER_MS}
        elif match := _TOPK.search(line):
            topk[int(match.group(1))] = float(match.group(2))
        elif match := _TOPK_PROTO.search(line):
            proto_topk.append(float(match.group(1)))
        elif match := _AVG_US_PROTO.search(line):
            proto_avg_us.append(float(match.group(1)))
        elif match := _AP.search(line):
            average_precision[match.group(1)] = float(match.group(2))
        elif match := _OUTPUT_DIFF.search(line):
            report.output_diffs.append({"output": int(match.group(1)), "avg_error": float(match.group(2)),
                                        "std_dev": float(match.group(3))})
        elif match := _VERDICT.search(line):
            report.verdicts[match.group(1)] = match.group(2)
        elif line in errors:
            pass
        else:
            continue
        recognised = True
    if not recognised:
        raise ResultFormatError("no benchmark_model, run_eval or inference_diff output found; is this the tool's "
                                "stdout (or `adb logcat -s tflite`)?")
    _assign_counts(report, counts)
    report.delegates = list(delegates.by_name.values())
    report.op_profile, report.init_profile = profile.runs, profile.init
    if report.output_diffs:
        report.tool = "inference_diff"
    elif topk or proto_topk or average_precision:
        report.tool = "run_eval"
        top = topk or {i + 1: v for i, v in enumerate(proto_topk)}
        report.accuracy = {f"top{k}": v for k, v in sorted(top.items())} if top else {}
        if average_precision:
            report.accuracy["average_precision"] = average_precision
        if proto_avg_us and "inference" not in report.latencies:
            names = ["preprocessing", "inference"] if len(proto_avg_us) >= 2 else ["inference"]
            for name, value in zip(names, proto_avg_us, strict=False):
                report.latencies[name] = {"avg_ms": value / US_PER_MS}
    if failed or (report.tool == "benchmark_model" and errors and report.inference is None
                  and report.inference_avg_ms is None):
        report.status = "failed"
        report.error = errors[0] if errors else "Benchmarking failed."
    return report


def _assign_counts(report: ToolReport, counts: list[tuple[int | None, Stats]]) -> None:
    """Tell the warm-up `count=` line from the timed one.

    The tool prints the warm-up block first (after `Running benchmark for at least 1 iterations`)
    and the timed block second; logs cut down to one line keep the timed one.
    """
    if not counts:
        return
    if len(counts) == 1:
        header, stats = counts[0]
        if header is not None and header <= 1 and stats.count <= 2 and report.inference_avg_ms is not None \
                and stats.avg_ms is not None and abs(stats.avg_ms - report.inference_avg_ms) > 1e-6:
            report.warmup = stats
        else:
            report.inference = stats
        return
    report.warmup, report.inference = counts[0][1], counts[-1][1]
    if report.warmup.count == 1 and report.warmup.avg_ms is None:
        report.warmup.avg_ms = report.warmup.curr_ms
