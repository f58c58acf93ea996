"""The one parser for benchmark_model / APK logcat / run_eval / inference_diff output."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.engines.tool_output import parse_tool_output, strip_prefix
from bench.errors import ResultFormatError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tool-outputs"
OURS = Path(__file__).parent / "data" / "tool-outputs"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent: the real tool outputs live there")


def _parse(folder: Path, name: str) -> dict:  # type: ignore[type-arg]
    return parse_tool_output((folder / name).read_text()).to_dict()


# file -> what a reader of the file sees in it (ms; MB)
SHARED_EXPECTED = {
    "apk-logcat-current.txt": {"init_ms": 1007.529, "first_inference_ms": 4.098, "inference_avg_ms": 1.68792},
    "apk-logcat-legacy.txt": {"init_ms": 4.108, "warmup_avg_ms": 91.471, "inference_avg_ms": 80.6601},
    "benchmark_model-gpu-full-delegation.txt": {"init_ms": 870.557, "inference.count": 50, "inference.std_ms": 1.948,
                                                "warmup.count": 4, "delegates": [("GPU", "full")]},
    "benchmark_model-info-percentiles-cpu.txt": {"inference.avg_ms": 1240.27, "inference.median_ms": 1239.807,
                                                 "warmup.count": 1, "memory.init_mb": 6.36328,
                                                 "memory.overall_mb": 109.832, "delegates": []},
    "benchmark_model-info-percentiles-xnnpack-partial.txt": {"delegates": [("XNNPACK", "partial")],
                                                             "inference.p95_ms": 904.305},
    "benchmark_model-memory-delta-line.txt": {"inference.count": 50, "warmup": None, "memory.overall_mb": 140.508},
    "benchmark_model-nnapi-failure.txt": {"status": "failed", "inference": None, "delegates": [("NNAPI", "failed")]},
    "benchmark_model-no-prefix-taskset.txt": {"warmup.count": 2, "inference.avg_ms": 266.473, "init_ms": 20.283},
    # its only `count=` line is the op profiler's per-run operator total, not the tool's latency
    "benchmark_model-op-profiling-legacy-summary.txt": {"inference": None, "inference_avg_ms": 79.7609,
                                                        "init_ms": 38.467, "first_inference_ms": None,
                                                        "op_profile.total_ms.count": 50,
                                                        "op_profile.total_ms.avg_ms": 79.732, "op_profile.nodes": 31,
                                                        "init_profile": None},
    "benchmark_model-peak-memory-line-older.txt": {"memory.init_mb": 4.92969, "memory.overall_mb": 138.809},
    "benchmark_model-single-warmup-scientific.txt": {"warmup.count": 1, "warmup.avg_ms": 3512.391,
                                                     "inference_avg_ms": 2950.34, "first_inference_ms": 3512.391},
    "benchmark_model-two-delegates-percentiles.txt": {"delegates": [("GPU", "full"), ("NNAPI", "none")],
                                                      "init_ms": 5664.363, "memory.overall_mb": 375.48},
    "delegate-line-variants.txt": {"inference.count": 25, "memory.init_mb": 54.2852},
    "delegate-performance-apk-logcat.txt": {"inference_avg_ms": 65.1555},
    "inference_diff-documented.txt": {"tool": "inference_diff", "eval_runs": 50},
    "run_eval-coco-documented.txt": {"tool": "run_eval", "eval_runs": 8059},
    "run_eval-imagenet-50k-label-mismatch.txt": {"tool": "run_eval", "accuracy.top1": 0.35942,
                                                 "accuracy.top5": 0.4553, "eval_runs": 50000},
    "run_eval-imagenet-documented.txt": {"tool": "run_eval", "accuracy.top1": 0.733333, "accuracy.top5": 0.89,
                                         "eval_runs": 300},
    "run_eval-imagenet-textproto-older.txt": {"tool": "run_eval", "accuracy.top1": 0.7033333,
                                              "accuracy.top5": 0.88, "eval_runs": 300},
}


def _check(report: dict, expected: dict) -> None:  # type: ignore[type-arg]
    for key, want in expected.items():
        if key == "delegates":
            assert [(d["name"], d["status"]) for d in report["delegates"]] == want
            continue
        value = report
        for part in key.split("."):
            value = value[part] if value is not None else None
        if isinstance(want, float):
            assert value == pytest.approx(want), key
        else:
            assert value == want, key


@needs_shared
def test_every_shared_file_is_covered() -> None:
    assert sorted(p.name for p in SHARED.glob("*.txt")) == sorted(SHARED_EXPECTED)


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_EXPECTED))
def test_real_tool_output(name: str) -> None:
    report = _parse(SHARED, name)
    if name.startswith(("benchmark_model", "apk", "delegate")) and "failure" not in name:
        assert report["tool"] == "benchmark_model" and report["status"] == "ok"
    _check(report, SHARED_EXPECTED[name])


def test_current_format_with_every_field() -> None:
    report = _parse(OURS, "benchmark_model-current-ours.txt")
    _check(report, {"status": "ok", "init_ms": 21.5, "first_inference_ms": 25.0, "warmup_avg_ms": 12.5,
                    "inference_avg_ms": 12.0, "inference.count": 80, "inference.avg_ms": 12.0,
                    "inference.p5_ms": 11.5, "inference.median_ms": 11.95, "warmup.count": 40,
                    "memory.init_mb": 9.5, "memory.overall_mb": 31.25, "memory.peak_mb": 33.125,
                    "model_size_mb": 5.26291, "delegates": [("XNNPACK", "full")]})


@needs_shared
def test_the_legacy_op_tables() -> None:
    profile = _parse(SHARED, "benchmark_model-op-profiling-legacy-summary.txt")["op_profile"]
    assert profile["ops"] == [{"node_type": "CONV_2D", "start_ms": 0.0, "first_ms": 4.269, "avg_ms": 4.269,
                               "percent": 0.107, "cdf_percent": 0.107, "mem_kb": 0.0, "times_called": 0,
                               "name": "MobilenetV1/MobilenetV1/Conv2d_0/Relu6"}]
    assert [(t["node_type"], t["count"], t["avg_ms"]) for t in profile["by_type"]] == [
        ("CONV_2D", 15, 1.406), ("DEPTHWISE_CONV_2D", 13, 0.169), ("SOFTMAX", 1, 0.0), ("RESHAPE", 1, 0.0),
        ("AVERAGE_POOL_2D", 1, 0.0)]


def test_op_profiling_keeps_the_runs_apart_from_the_initialisation() -> None:
    report = _parse(OURS, "benchmark_model-op-profiling-ours.txt")
    # the timed runs' statistics are the tool's, untouched by the profiler's own `Timings` lines
    _check(report, {"inference.count": 80, "inference.avg_ms": 12.0, "warmup.count": 40, "init_ms": 21.5,
                    "op_profile.nodes": 3, "op_profile.total_ms.count": 80, "op_profile.total_ms.avg_ms": 11.761,
                    "init_profile.nodes": 2, "init_profile.total_ms.count": 1})
    runs = report["op_profile"]
    assert [(o["node_type"], o["name"], o["avg_ms"], o["times_called"]) for o in runs["ops"]] == [
        ("TfLiteXNNPackDelegate", "[stem_conv]:65", 10.61, 1), ("DEQUANTIZE", "[logits_dequant]:66", 0.018, 1),
        ("SOFTMAX", "[probs]:67", 1.133, 1)]
    assert [(t["node_type"], t["percent"]) for t in runs["by_type"]] == [
        ("TfLiteXNNPackDelegate", 90.215), ("SOFTMAX", 9.633), ("DEQUANTIZE", 0.153)]
    assert [o["node_type"] for o in report["init_profile"]["ops"]] == ["ModifyGraphWithDelegate", "AllocateTensors"]


def test_a_gpu_run_that_left_ops_on_the_cpu_says_so() -> None:
    report = _parse(OURS, "benchmark_model-gpu-fallback-ours.txt")
    assert report["delegates"] == [{"name": "GPU", "status": "partial", "nodes_delegated": 10, "nodes_total": 15,
                                    "partitions": 3}]
    _check(report, {"status": "ok", "init_ms": 300.0, "inference.count": 50, "warmup_avg_ms": 9.5})


def test_a_crash_is_failed_with_the_tools_reason() -> None:
    report = _parse(OURS, "benchmark_model-crash-ours.txt")
    assert report["status"] == "failed" and report["inference"] is None
    assert report["error"].startswith("Didn't find op for builtin opcode 'STABLEHLO_COMPOSITE'")


@pytest.mark.parametrize(("line", "bare"), [
    ("INFO: count=1 curr=5", "count=1 curr=5"),
    ("I tflite  : count=1 curr=5", "count=1 curr=5"),
    ("I/tflite: Replacing 3 node(s)", "Replacing 3 node(s)"),
    ("... tflite  : tflite  :   accuracy: ok", "accuracy: ok"),
    ("05-14 10:22:31.123  4242  4242 I tflite  : VERBOSE: Replacing 1", "Replacing 1"),
    ("count=50 first=1", "count=50 first=1"),
])
def test_prefixes(line: str, bare: str) -> None:
    assert strip_prefix(line) == bare


def test_text_that_is_no_tool_output_is_a_clear_error() -> None:
    with pytest.raises(ResultFormatError, match="no benchmark_model, run_eval or inference_diff output"):
        parse_tool_output("Hello\nthis is a shopping list\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=80),
    st.sampled_from(["INFO: count=", "count=3 avg=1e+400 std=nan", "Inference timings in us: Init: , First inference:",
                     "Replacing 5 out of 0 node(s) with delegate (X) node, yielding 0 partitions",
                     "Memory footprint delta from the start of the tool (MB): init=1 overall=", "Top-1 Accuracy: x",
                     "Benchmarking failed.", "I tflite  : ", "topk_accuracies: 1e5",
                     "OutputDiff[0]: avg_error=1, std_dev=2",
                     "Running benchmark for at least 99999999999999999999 iterations"]),
), max_size=20))
def test_any_text_gives_a_result_or_a_parse_error(lines: list[str]) -> None:
    try:
        report = parse_tool_output("\n".join(lines)).to_dict()
    except ResultFormatError:
        return
    assert report["status"] in ("ok", "failed") and report["tool"] in ("benchmark_model", "run_eval", "inference_diff")


def test_old_replacing_line_without_a_total_is_nodes_on_the_gpu_not_a_fallback() -> None:
    # `delegate-line-variants.txt` line 1 (a real log): only `Replacing N node(s)`, no `out of M`
    from bench.devices.android.tool_result import accelerator_used

    text = ("INFO: Created TensorFlow Lite delegate for GPU.\n"
            "VERBOSE: Replacing 3 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions.\n"
            "INFO: count=5 first=100 curr=100 min=100 max=100 avg=100 std=0\n")
    report = parse_tool_output(text)
    gpu = report.delegates[0]
    assert (gpu.name, gpu.status, gpu.nodes_delegated, gpu.nodes_total) == ("GPU", "applied", 3, None)
    assert accelerator_used("gpu", report) == "gpu"


def test_op_profile_of_several_subgraphs_keeps_each_total() -> None:
    # the layout of LiteRT's profile_summary_formatter.cc for a model with a second subgraph
    rows = "\t[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]\n"
    text = ("INFO: count=5 first=1000 curr=1000 min=1000 max=1000 avg=1000 std=0\n"
            "INFO: Operator-wise Profiling Info for Regular Benchmark Runs:\n"
            "Primary graph (name: main) profile:\n"
            "============================== Run Order ==============================\n" + rows +
            "\t         WHILE\t 0.900\t 0.900\t 90.000%\t 90.000%\t 0.000\t 1\t[while]\n"
            "Timings (microseconds): count=5 first=950 curr=950 min=950 max=950 avg=950 std=0\n"
            "Memory (bytes): count=0\n1 nodes observed\n"
            "Subgraph (index: 1, name: body) profile:\n"
            "============================== Run Order ==============================\n" + rows +
            "\t       CONV_2D\t 0.080\t 0.080\t 80.000%\t 80.000%\t 0.000\t 10\t[body/conv]\n"
            "Subgraph (index: 1, name: body) Timings (microseconds): count=50 first=80 curr=80 min=80 max=80 "
            "avg=80 std=0\n"
            "Memory (bytes): count=0\n1 nodes observed\n")
    report = parse_tool_output(text)
    assert report.inference is not None and report.inference.count == 5  # the subgraph's line is no latency
    profile = report.op_profile
    assert profile is not None and profile.total is not None and profile.total["avg_ms"] == 0.95
    assert profile.subgraph_totals[1]["avg_ms"] == 0.08 and profile.subgraph_totals[1]["count"] == 50
    assert [op.get("subgraph", 0) for op in profile.ops] == [0, 1]
    assert profile.to_dict()["subgraph_totals_ms"]["1"]["avg_ms"] == 0.08
