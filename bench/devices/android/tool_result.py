"""benchmark_model's output on a phone -> the RawRun every backend returns."""

from __future__ import annotations

import signal

from bench.engines.tool_output import ToolReport, parse_tool_output
from bench.errors import ResultFormatError, ToolFailedError
from bench.results.device_records import Accelerator
from bench.results.records import RawRun
from bench.results.stats import ToolSummary

# the delegate that carries each accelerator, as benchmark_model names it
DELEGATE_OF: dict[str, str] = {Accelerator.GPU: "GPU", Accelerator.NNAPI: "NNAPI", Accelerator.XNNPACK: "XNNPACK"}


def accelerator_used(requested: str, report: ToolReport) -> str:
    """What really ran the graph: the requested delegate if it took nodes, else `cpu (fallback from X)`."""
    wanted = DELEGATE_OF.get(requested)
    if wanted is None:  # "none": the plain CPU kernels were asked for
        return requested
    for delegate in report.delegates:
        if delegate.name == wanted and delegate.status in ("full", "partial", "applied"):
            return f"{requested} (partial)" if delegate.status == "partial" else requested
        if delegate.name == wanted and delegate.status == "created" and requested == Accelerator.XNNPACK:
            return requested  # XNNPACK applies itself without a coverage line on many builds
    return f"cpu (fallback from {requested})"


def exit_text(code: int | None) -> str:
    """How the tool ended, for a message: 'exit 139: killed by SIGSEGV' (a shell reports a signal as 128 + N)."""
    if not code:
        return ""
    try:
        return f"exit {code}: killed by {signal.Signals(code - 128).name}" if code > 128 else f"exit {code}"
    except ValueError:
        return f"exit {code}"


def raw_run(output: str, *, requested: str, model_size_bytes: int, input_shape: tuple[int, ...],
            tool_sha256: str, sampled_vmhwm_mb: float | None, cpu_mask: str | None = None,
            exit_code: int | None = None) -> RawRun:
    """Parse a run's output; raise ToolFailedError with the tool's own reason (and how it ended) when it failed."""
    ended = exit_text(exit_code)
    try:
        report = parse_tool_output(output)
    except ResultFormatError as exc:
        tail = output.strip().splitlines()[-1:] or ["no output"]
        raise ToolFailedError(f"benchmark_model gave no result ({ended + ', ' if ended else ''}its last line: "
                              f"{tail[0][:120]!r}); its output is kept with the failed job: python -m bench report "
                              "RUN_ID --raw JOB_ID") from exc
    stats = report.inference
    if report.status != "ok" or stats is None or stats.avg_ms is None:
        raise ToolFailedError(f"benchmark_model failed{' (' + ended + ')' if ended else ''}: "
                              f"{report.error or 'no timed runs in its output'}")
    warmup = report.warmup  # the tool prints warm-up statistics, not the runs
    summary = ToolSummary(count=stats.count, mean_ms=stats.avg_ms, std_ms=stats.std_ms, min_ms=stats.min_ms,
                          max_ms=stats.max_ms, first_ms=stats.first_ms, p5_ms=stats.p5_ms, median_ms=stats.median_ms,
                          p95_ms=stats.p95_ms, warmup_count=warmup.count if warmup else None,
                          warmup_mean_ms=warmup.avg_ms if warmup else None)
    return RawRun(
        engine="benchmark_model", engine_version=f"sha256:{tool_sha256[:16]}", init_ms=report.init_ms,
        first_inference_ms=report.first_inference_ms, warmup_ms=(), latencies_ms=(), summary=summary,
        peak_rss_after_init_mb=None, peak_rss_mb=sampled_vmhwm_mb, model_size_bytes=model_size_bytes,
        input_shape=input_shape, accelerator_used=accelerator_used(requested, report),
        raw_output=output, tool_memory_init_delta_mb=report.memory_init_mb,
        tool_memory_overall_delta_mb=report.memory_overall_mb,
        delegates=tuple(d.to_dict() for d in report.delegates),
        op_profile=report.op_profile.to_dict() if report.op_profile else None, cpu_mask=cpu_mask,
    )
