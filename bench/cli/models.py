"""`bench models list|build|info`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import imagenet_root, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="the model zoo and its variants")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="models in the zoo and the variants bench builds")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    build = sub.add_parser("build", help="build variants into the cache (a second build is a cache hit)")
    build.add_argument("--model", default="efficientnet_lite0",
                       help="a zoo name, or your own .tflite / .keras / SavedModel (default: efficientnet_lite0)")
    build.add_argument("--variants", default=None, help="comma-separated (default: fp32,int8,pruned50,res160)")
    build.add_argument("--imagenet", default=None, help="ImageNet val folder for calibration (or BENCH_IMAGENET)")
    build.add_argument("--preprocess", type=Path, default=None, help="TOML preprocessing spec for your own model")
    build.add_argument("--calibration-images", type=int, default=200, help="INT8 calibration images (default 200)")
    build.add_argument("--prune-images", type=int, default=300, help="pruning fine-tune images (default 300)")
    build.add_argument("--prune-budget-s", type=float, default=600.0,
                       help="pruning fine-tune wall time in seconds (default 600; 0 = one-shot, no fine-tuning)")
    build.add_argument("--format", choices=("tflite", "coreml"), default="tflite",
                       help="coreml: Core ML packages for iPhones, converted from the TFLite variants (ios extra)")
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=_build)

    info = sub.add_parser("info", help="inputs, outputs, op counts, quantisation and sparsity of a .tflite")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=_info)


def _list(args: argparse.Namespace) -> int:
    from bench.models.variants import ALL_VARIANTS_HELP, DEFAULT_VARIANTS
    from bench.models.zoo import ZOO

    if args.json:
        print_json({"models": [{"name": e.name, "description": e.description, "preprocess": e.preprocess.to_dict(),
                                "published_top1": e.published_top1} for e in ZOO.values()],
                    "variants": ALL_VARIANTS_HELP, "default_variants": list(DEFAULT_VARIANTS)})
        return 0
    for entry in ZOO.values():
        p = entry.preprocess
        print(f"{entry.name}: {entry.description}")
        print(f"  input {p.input_size}x{p.input_size} {p.channel_order.value}, centre crop {p.crop_fraction}, "
              f"{p.resize_filter.value}, (x - {p.mean[0]:g}) / {p.std[0]:g} in the graph; "
              f"published ImageNet top-1 {entry.published_top1}%")
    print(f"variants: {ALL_VARIANTS_HELP}")
    print(f"default variants: {','.join(DEFAULT_VARIANTS)}")
    print("your own model: --model PATH.tflite (benchmarked as given) or PATH.keras / SavedModel + --preprocess")
    return 0


def _build(args: argparse.Namespace) -> int:
    from bench.cli.common import positive_int
    from bench.models.build import BuildOutcome, BuildSettings, build_variants
    from bench.models.pruning import PruningSettings
    from bench.models.variants import DEFAULT_VARIANTS, parse_variant_list
    from bench.models.zoo import SourceKind, resolve_source
    from bench.paths import cache_dir

    source = resolve_source(args.model, args.preprocess)
    default = "original" if source.kind in (SourceKind.TFLITE, SourceKind.COREML) else ",".join(DEFAULT_VARIANTS)
    specs = parse_variant_list(args.variants or default, source.preprocess.input_size)
    settings = BuildSettings(
        cache_root=cache_dir(), imagenet=imagenet_root(args.imagenet),
        int8_calibration_images=positive_int(str(args.calibration_images)),
        pruning_calibration_images=positive_int(str(args.prune_images)),
        pruning=PruningSettings(budget_s=max(0.0, args.prune_budget_s)),
    )

    def show(outcome: BuildOutcome) -> None:
        if args.json:
            return
        if outcome.error:
            print(f"{outcome.model} {outcome.variant}: FAILED: {outcome.error}")
            return
        assert outcome.manifest is not None
        m = outcome.manifest
        how = "cache hit" if outcome.cache_hit else "built"
        sparsity = m.weight_sparsity["overall"] if m.weight_sparsity else None
        extra = f", sparsity {sparsity:.3f}" if sparsity is not None else ""
        calib = f", calibration {m.calibration.source} x{m.calibration.count}" if m.calibration else ""
        print(f"{m.model} {m.variant}: {how} in {outcome.duration_s:.1f} s, {m.model_size_bytes / 1e6:.2f} MB, "
              f"input {list(m.inputs[0].shape)} {m.inputs[0].dtype}{extra}{calib}\n  {outcome.path}")

    if args.format == "coreml" or source.kind is SourceKind.COREML:
        from bench.models.coreml_build import build_coreml_variants

        outcomes = build_coreml_variants(source, [s.name for s in specs], settings)
        for outcome in outcomes:
            show(outcome)
    else:
        outcomes = build_variants(source, specs, settings, on_outcome=show)
    if args.json:
        print_json([{"model": o.model, "variant": o.variant, "path": str(o.path) if o.path else None,
                     "cache_hit": o.cache_hit, "duration_s": round(o.duration_s, 3), "error": o.error,
                     "manifest": o.manifest.to_dict() if o.manifest else None} for o in outcomes])
    return 1 if any(o.error for o in outcomes) else 0


def _info(args: argparse.Namespace) -> int:
    from bench.models.macs import readable
    from bench.models.tflite_info import inspect_tflite

    info = inspect_tflite(args.file)
    if args.json:
        print_json(info.to_dict())
        return 0
    print(f"{info.path}: {info.model_size_bytes} bytes, sha256 {info.sha256[:16]}")
    for label, tensors in (("input", info.inputs), ("output", info.outputs)):
        for t in tensors:
            quant = f", quantised scale {t.quant_scale:.6g} zero point {t.quant_zero_point}" if t.quant_scale else ""
            print(f"  {label} {t.name}: {list(t.shape)} {t.dtype}{quant}")
    print("  ops: " + ", ".join(f"{name} x{count}" for name, count in info.op_counts.items()))
    shapes = ", ".join("x".join(str(d) for d in shape) for shape in info.macs.input_shapes)
    print(f"  MACs: {readable(info.macs.total)} per inference at {shapes} ("
          + ", ".join(f"{op} {readable(macs)}" for op, macs in info.macs.by_op.items()) + ")")
    stored = sorted({f"{w.op}:{w.stored_dtype}" + (f" via {w.stored_via}" if w.stored_via else "")
                     for w in info.weights})
    print("  weights: " + ", ".join(stored))
    sparsity = info.sparsity_over(pruned_only=True)
    overall = sparsity["overall"]
    print(f"  sparsity of 1x1 conv + dense weights: {overall:.3f}" if overall is not None
          else "  sparsity: not readable (sparse-encoded weights)")
    everything = info.sparsity_over(pruned_only=False)["overall"]
    if everything is not None:
        print(f"  sparsity of all conv + dense weights: {everything:.3f}")
    return 0
