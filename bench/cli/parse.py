"""`bench parse FILE`: read a saved benchmark_model / run_eval / inference_diff log (or APK logcat)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import print_json
from bench.errors import ConfigError

TOP_TYPES = 5


def register(subparsers: Any) -> None:
    parse = subparsers.add_parser("parse", help="parse a saved benchmark_model, run_eval or inference_diff log")
    parse.add_argument("file", type=Path, help="the tool's stdout, or `adb logcat -s tflite` output")
    parse.add_argument("--json", action="store_true", help="print the parsed fields as JSON")
    parse.set_defaults(handler=_parse)


def _parse(args: argparse.Namespace) -> int:
    from bench.engines.tool_output import parse_tool_output

    try:
        text = args.file.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file} ({exc.strerror}); pass the path of a saved log") from exc
    report = parse_tool_output(text).to_dict()
    if args.json:
        print_json(report)
        return 0 if report["status"] == "ok" else 1
    print(f"{report['tool']}: {report['status']}" + (f" ({report['error']})" if report["error"] else ""))
    for key in ("init_ms", "first_inference_ms", "warmup_avg_ms", "inference_avg_ms"):
        if report[key] is not None:
            print(f"  {key}: {report[key]:.3f}")
    if report["inference"]:
        stats = {k: v for k, v in report["inference"].items() if v is not None}
        print("  inference: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in stats.items()))
    memory = {k: v for k, v in report["memory"].items() if v is not None}
    if memory:
        print("  memory (MB, delta of peak RSS from tool start): " + ", ".join(f"{k}={v}" for k, v in memory.items()))
    for d in report["delegates"]:
        coverage = "" if d["nodes_delegated"] is None else f" {d['nodes_delegated']}/{d['nodes_total'] or '?'} nodes"
        print(f"  delegate {d['name']}: {d['status']}{coverage}")
    profile = report["op_profile"]
    if profile and profile["by_type"]:
        print("  op profile (ms per run, by operator type): " + ", ".join(
            f"{t['node_type']}={t['avg_ms']}" for t in profile["by_type"][:TOP_TYPES]))
    if report["accuracy"]:
        print("  accuracy: " + ", ".join(f"{k}={v}" for k, v in report["accuracy"].items()))
    return 0 if report["status"] == "ok" else 1
