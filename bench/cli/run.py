"""`bench run`, `bench runs`, `bench report`, `bench export`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cli.common import EXIT_ERROR, EXIT_OK, EXIT_UNSTABLE, open_store, print_json, store_arg
from bench.engines.loop import loop_option_help
from bench.errors import ConfigError

if TYPE_CHECKING:
    from bench.results.records import JobResult


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in _csv(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected whole numbers like 1,2,4, got {text!r}") from exc


def _duration(text: str) -> float:
    """Seconds from `90`, `90s`, `10m` or `1h`."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a time like 90s, 10m or 1h, got {text!r}") from exc


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="measure every variant of a model on a device and print the table")
    run.add_argument("--device", default="local", help="device alias (default: local, this host)")
    run.add_argument("--config", type=Path, default=None, help="bench.toml (default: ./bench.toml if present)")
    run.add_argument("--model", dest="models", type=_csv, default=None,
                     help="zoo names or model files, comma-separated (default: efficientnet_lite0)")
    run.add_argument("--variants", type=_csv, default=None, help="default: fp32,int8,pruned50,res160")
    run.add_argument("--accelerators", type=_csv, default=None, help="xnnpack (default) or none on the host")
    run.add_argument("--threads", type=_ints, default=None,
                     help="default: min(4, a phone's cores outside its slowest cluster); on the host, cores - 1")
    run.add_argument("--dynamic-sizes", dest="dynamic_sizes", type=_ints, default=None,
                     help="input sizes to time the dynamic variant at (default: 224)")
    run.add_argument("--imagenet", type=Path, default=None, help="ImageNet val folder (or BENCH_IMAGENET)")
    run.add_argument("--images", type=int, default=None, help="evaluation images (default: the whole split)")
    run.add_argument("--per-class", dest="subset", action="store_const", const="per-class", default=None,
                     help="spread --images evenly over classes instead of the first N by name")
    run.add_argument("--subset", dest="subset", default=None, metavar="NAME",
                     help="score a named subset of ImageNet val, the same images in every lab: imagenet-val-5k "
                          "(5 per class), imagenet-val-1k (1 per class), or a manifest file (datasets/README.md)")
    for name, kind in (("num_runs", int), ("min_secs", float), ("max_secs", float), ("warmup_runs", int),
                       ("warmup_min_secs", float)):  # the tool's loop (bench.engines.loop), as bench.toml names it
        run.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=loop_option_help(name))
    for flag, kind, what in (("--prune-budget-s", float, "(600)"),
                             ("--cooldown-below-c", float, "wait before each job until the CPU is cooler (phones: 45)"),
                             ("--cooldown-timeout-s", float, "give up waiting after (300)")):
        run.add_argument(flag, type=kind, default=None, help=what)
    run.add_argument("--benchmark-model", dest="benchmark_model", default=None, metavar="PATH",
                     help="benchmark_model built for the phone's ABI (else the inventory's)")
    run.add_argument("--fixed-performance", dest="fixed_performance", action="store_const", const=True, default=None,
                     help="Android: turn on the fixed performance mode (steady clocks) for the run")
    run.add_argument("--clean", dest="clean", action="store_const", const=True, default=None,
                     help="after the run, remove what bench pushed to the phone (/data/local/tmp/bench; an iPhone's "
                          "app documents)")
    run.add_argument("--strict", dest="strict", action="store_const", const=True, default=None,
                     help="exit 2 when a result is flagged unstable (default: exit 0, the warnings printed and stored)")
    run.add_argument("--op-profiling", dest="op_profiling", action="store_const", const=True, default=None,
                     help="benchmark_model's per-operator times (--enable_op_profiling; the profiler adds overhead)")
    run.add_argument("--run-eval", dest="run_eval", default=None, metavar="PATH",
                     help="ImageNet run_eval built for the phone's ABI: accuracy is then scored by it on the phone")
    run.add_argument("--runner-ipa", dest="runner_ipa", default=None, metavar="PATH",
                     help="iPhone: the BenchRunner .ipa to install (devices/ios/BenchRunner/README.md)")
    run.add_argument("--sustained", dest="sustained_s", type=_duration, default=None, metavar="TIME",
                     help="run each model for TIME (10m, 90s) as one long job: latency, FPS and heat over time")
    run.add_argument("--rate", dest="rate_hz", type=float, default=None, metavar="FPS",
                     help="with --sustained: feed frames at this rate (benchmark_model --run_frequency); dropped "
                          "frames are counted against it (default: back to back)")
    run.add_argument("--window-s", dest="window_s", type=float, default=None,
                     help="with --sustained: seconds per launch of the tool (10)")
    run.add_argument("--concurrent", type=_csv, default=None, metavar="VARIANTS",
                     help="also run these variants at the same time, each in its own process: each one's slowdown "
                          "and the total FPS (e.g. fp32,int8)")
    run.add_argument("--concurrent-s", dest="concurrent_s", type=float, default=None,
                     help="with --concurrent: seconds the group runs (10)")
    run.add_argument("--resume", default=None, metavar="RUN_ID", help="finish only the jobs RUN_ID lacks")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    store_arg(run)
    run.set_defaults(handler=_run)

    runs = subparsers.add_parser("runs", help="list stored runs, newest first")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--check", action="store_true",
                      help="read every stored row and list those that are damaged (exit 1 when any is)")
    store_arg(runs)
    runs.set_defaults(handler=_runs)

    report = subparsers.add_parser("report", help="the comparison table of a stored run")
    report.add_argument("run_id", nargs="?", default="latest", help="a run id, or latest (default)")
    report.add_argument("--format", choices=("table", "md", "csv", "json", "html"), default="table")
    report.add_argument("--raw", default=None, metavar="JOB_ID",
                        help="print what the tool printed for one job of the run (a failed job's too)")
    report.add_argument("--out", type=Path, default=None,
                        help="with --format html: the site folder (default: reports/run-RUN_ID)")
    store_arg(report)
    report.set_defaults(handler=_report)

    export = subparsers.add_parser("export", help="write a stored run as JSON")
    export.add_argument("run_id", nargs="?", default="latest")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    store_arg(export)
    export.set_defaults(handler=_export)


def _run(args: argparse.Namespace) -> int:
    from bench.config import load_config, with_overrides
    from bench.paths import cache_dir
    from bench.progress import note
    from bench.run.stages import execute_run

    config = with_overrides(
        load_config(args.config), models=args.models, variants=args.variants, accelerators=args.accelerators,
        threads=args.threads, dynamic_sizes=args.dynamic_sizes, imagenet=args.imagenet, images=args.images,
        subset=args.subset, num_runs=args.num_runs, min_secs=args.min_secs, max_secs=args.max_secs,
        warmup_runs=args.warmup_runs, warmup_min_secs=args.warmup_min_secs, prune_budget_s=args.prune_budget_s,
        benchmark_model=args.benchmark_model, cooldown_below_c=args.cooldown_below_c,
        cooldown_timeout_s=args.cooldown_timeout_s, fixed_performance=args.fixed_performance,
        op_profiling=args.op_profiling, strict=args.strict, clean=args.clean, run_eval=args.run_eval,
        runner_ipa=args.runner_ipa,
        sustained_s=args.sustained_s, rate_hz=args.rate_hz, window_s=args.window_s, concurrent=args.concurrent,
        concurrent_s=args.concurrent_s,
    )

    config = _built_files_run_as_they_are(config, variants_given=args.variants is not None)

    landed: list[Any] = []

    def progress(result: Any, position: int, total: int) -> None:
        """Each row as it lands, against the fp32 row when that one is in already."""
        from bench.reports.table import row_line

        landed.append(result)
        if not args.json:
            note(f"[{position}/{total}] {row_line(landed, result.job_id)}")

    with open_store(args.store) as store:
        outcome = execute_run(config, store, cache_dir(), device_alias=args.device, resume=args.resume,
                              on_job=progress)
    if args.json:
        print_json(run_json(outcome))
    else:
        _print_table(outcome.run_id, outcome.device, outcome.results, outcome.accuracy_measured, "table")
        _print_together(outcome.results)
        _print_frames(outcome.results)
        note(f"plots and every number of each job: python -m bench report {outcome.run_id} --format html")
    retry = [r.job_id for r in outcome.results if r.to_retry]
    if retry:  # the phone or the link failed them, not the tool: they can be finished
        note(f"{len(retry)} job(s) failed for the phone or its link (each says why above), or never started; once "
             f"the phone is fixed, finish them with: python -m bench run --resume {outcome.run_id}")
    if outcome.failed:
        return EXIT_ERROR
    # measured is success; unstable is a warning, and an exit code only when asked (--strict)
    return EXIT_UNSTABLE if outcome.unstable and config.run.strict else EXIT_OK


def _built_files_run_as_they_are(config: Any, *, variants_given: bool) -> Any:
    """`--model my.tflite` (or .mlpackage) without variants named anywhere runs the file as it is (`original`):
    the default variants need a source model to build from."""
    from dataclasses import replace

    from bench.config import RunConfig
    from bench.progress import note

    models = config.run.models
    built = (".tflite", ".mlpackage", ".mlmodel")
    if variants_given or config.run.variants != RunConfig().variants or not models or \
            not all(str(m).endswith(built) for m in models):
        return config
    note("running the model file(s) as they are (variant original); name --variants to build others from a "
         "source model")
    return replace(config, run=replace(config.run, variants=("original",)))


def _print_together(results: list[Any]) -> None:
    """Each job that ran at the same time as others: its slowdown against itself alone, and the throughput."""
    together = [r for r in results if r.concurrent]
    if not together:
        return
    print("\nrun at the same time (each in its own process):")
    for r in together:
        c = r.concurrent

        def number(value: Any, form: str) -> str:
            return format(value, form) if value is not None else "-"

        print(f"  {r.job_id}: {number(c.slowdown, '.2f')}x its time alone ({c.center} "
              f"{number(c.center_ms, '.2f')} ms vs {number(c.solo_center_ms, '.2f')} ms), "
              f"{number(c.fps, '.1f')} FPS vs {number(c.solo_fps, '.1f')} alone; the group "
              f"{c.group_fps:.1f} FPS in all; the tools shared {c.shared_wall_share:.0%} of the wall time")


def _print_frames(results: list[Any]) -> None:
    """Each frames job ([[run.pipelines]]): frames per second, dropped frames, and what each stage took."""
    for r in (r for r in results if r.frames):
        f = r.frames
        dropped = f", {f.dropped_share:.1%} of frames dropped at {f.rate_hz:g} FPS" if f.dropped_share \
            is not None else ""
        fps = f"{f.fps:.1f}" if f.fps is not None else "-"
        print(f"\n{r.model}: {f.frames} frames, {fps} FPS{dropped}; per frame p50 {r.latency_ms.p50:.2f} ms, "
              f"p99 {r.latency_ms.p99:.2f} ms")
        for stage in f.stages:
            print(f"  {stage.model} {stage.variant} every {stage.every} frame(s): {stage.runs} runs, "
                  f"p50 {stage.p50_ms:.2f} ms")


def _sustained_json(sustained: Any) -> dict[str, Any]:
    """A sustained job's findings, minute by minute, and its temperature curve (every window: `bench export`)."""
    return {"duration_s": sustained.duration_s, "rate_hz": sustained.rate_hz or None,
            "windows": len(sustained.windows), "minutes": [m.to_dict() for m in sustained.minutes],
            "throttle_onset_s": sustained.throttle_onset_s, "throttle_evidence": sustained.throttle_evidence,
            "dropped_share": sustained.dropped_share, "dropped_method": sustained.dropped_method,
            "temperature_c": [[round(t, 1), state.hottest_c, state.thermal_status] for t, state in sustained.samples]}


def run_json(outcome: Any) -> dict[str, Any]:
    """The stable machine-readable form of a run (scripts and nightly jobs read these names)."""
    results = []
    for r in outcome.results:
        lat, raw, acc = r.latency_ms, r.raw, r.accuracy
        results.append({
            "job_id": r.job_id, "model": r.model, "variant": r.variant, "accelerator": r.accelerator,
            "accelerator_used": raw.accelerator_used if raw else None,
            "threads": r.threads, "status": r.status.value, "error": r.error,
            "model_size_bytes": raw.model_size_bytes if raw else None,
            "input_shape": list(raw.input_shape) if raw else None,
            "init_ms": raw.init_ms if raw else None, "first_inference_ms": raw.first_inference_ms if raw else None,
            "latency_ms": {k: v for k, v in lat.to_dict().items() if k != "fps"} if lat else None,
            "fps": lat.fps if lat else None, "peak_rss_mb": raw.peak_rss_mb if raw else None,
            "peak_rss_after_init_mb": raw.peak_rss_after_init_mb if raw else None,
            "accuracy": {"top1": acc.top1, "top5": acc.top5, "images": acc.images,
                         "top1_agreement_with_fp32": acc.top1_agreement_with_fp32,
                         "scored_by": acc.scored_by, "subset": acc.subset} if acc else None,
            "warnings": list(r.warnings),
            "sustained": _sustained_json(r.sustained) if r.sustained else None,
            "concurrent": r.concurrent.to_dict() if r.concurrent else None,
            "pipeline": r.frames.to_dict() if r.frames else None,  # the [[run.pipelines]] job's numbers
        })
    return {"run_id": outcome.run_id,
            "device": {"id": outcome.device.id, "platform": outcome.device.platform.value,
                       "model": outcome.device.model, "simulated": outcome.device.simulated,
                       "capabilities": [c.to_dict() for c in outcome.device.capabilities]},
            "accuracy_measured": outcome.accuracy_measured, "results": results}


def _print_table(run_id: str, device: Any, results: list[Any], accuracy_measured: bool, fmt: str) -> None:
    from bench.reports.table import comparison_rows, render

    for model in dict.fromkeys(r.model for r in results):
        rows = comparison_rows([r for r in results if r.model == model])
        simulated = " (simulated)" if device.simulated else ""
        title = f"{model} on {device.model}{simulated} ({device.soc or device.id}) - run {run_id}"
        print(render(rows, fmt, title=title, accuracy_measured=accuracy_measured), end="")


def _runs(args: argparse.Namespace) -> int:
    if args.check:
        return _check_store(args)
    with open_store(args.store) as store:
        records = store.runs()
        retry = {r.run_id: store.to_retry(r.run_id) for r in records if r.jobs_to_retry}
    if args.json:
        print_json([{"run_id": r.run_id, "created_at": r.created_at, "device": r.device.to_dict(),
                     "jobs": len(r.plan), "done": r.jobs_done, "failed": r.jobs_failed, "complete": r.complete,
                     "resume_retries": retry.get(r.run_id, [])} for r in records])
        return EXIT_OK
    if not records:
        print("no runs yet; start one with: python -m bench run")
    for r in records:
        state = "complete" if r.complete else f"incomplete: resume with --resume {r.run_id}"
        print(f"{r.run_id}  {r.created_at}  {r.device.model}  {r.jobs_done}/{len(r.plan)} jobs, "
              f"{r.jobs_failed} failed  ({state})")
        if retry.get(r.run_id):  # failed for the phone or the link, or never started: not the tool's fault
            print(f"    a resume runs again: {', '.join(retry[r.run_id])}")
    return EXIT_OK


def _check_store(args: argparse.Namespace) -> int:
    """Every row the store holds that this version cannot read, and SQLite's own check of the file."""
    with open_store(args.store) as store:
        damaged = store.damaged()
        path = store.path
    if args.json:
        print_json([{"run_id": run, "job_id": job, "problem": what} for run, job, what in damaged])
    elif not damaged:
        print(f"{path}: every row reads")
    else:
        print(f"{path}: {len(damaged)} damaged row(s); the other rows read as usual:")
        for run, job, what in damaged:
            print(f"  run {run}" + (f" job {job}" if job else " (the run's own row)") + f": {what}")
        print("every command skips them; to drop them for good, delete those rows or move the store aside")
    return EXIT_ERROR if damaged else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    if args.format == "html":
        from bench.cli.site import DEFAULT_SITE, print_summary
        from bench.reports.site import publish

        with open_store(args.store) as store:
            record = store.run(args.run_id)
            print_summary(publish(store, args.out or DEFAULT_SITE / f"run-{record.run_id}", [record.run_id]))
        return EXIT_OK
    with open_store(args.store) as store:
        record = store.run(args.run_id)
        results = store.job_results(record.run_id)
    if args.raw is not None:
        return _print_raw(record.run_id, results, args.raw)
    measured = any(r.accuracy for r in results) or bool(record.config.get("dataset", {}).get("imagenet"))
    _print_table(record.run_id, record.device, results, measured, args.format)
    return EXIT_OK


def _print_raw(run_id: str, results: list[JobResult], job_id: str) -> int:
    """The tool's output for one job, as it was: a measured job's, or what a failed job's tool printed."""
    job = next((r for r in results if r.job_id == job_id), None)
    if job is None:
        raise ConfigError(f"run {run_id} has no job {job_id}; its jobs: {', '.join(r.job_id for r in results)}")
    output = job.raw.raw_output if job.raw else job.tool_output
    if not output:
        print(f"{job_id}: no tool output was kept ({job.status.value}{': ' + job.error if job.error else ''})",
              file=sys.stderr)
        return EXIT_ERROR
    print(output, end="" if output.endswith("\n") else "\n")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        record = store.run(args.run_id)
        payload = {"run_id": record.run_id, "created_at": record.created_at, "device": record.device.to_dict(),
                   "bench_version": record.bench_version, "config": record.config, "plan": record.plan,
                   "results": [r.to_dict() for r in store.job_results(record.run_id)]}
    text = json.dumps(payload, indent=2)
    if args.out:
        from bench.fileio import write_text_atomic

        write_text_atomic(args.out, text + "\n")
    else:
        print(text)
    return EXIT_OK
