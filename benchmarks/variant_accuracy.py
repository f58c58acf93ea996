"""Top-1 / top-5 of built variants on an ImageNet val folder, measured with LiteRT on the host.

    python benchmarks/variant_accuracy.py --imagenet ../shared/imagenet-val-sample \
        --variants fp32,int8,pruned50 [--prune-budget-s 600]

Variants come from the variant cache (built first when missing). Accuracy is reported on the
evaluation split (the images not used for calibration) and, for reference, on every image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.datasets.layouts import load_imagenet
from bench.datasets.scoring import normalizer, top1_agreement, topk_accuracy
from bench.datasets.subsets import SubsetRule, eval_subset
from bench.datasets.tensor_cache import preprocessed
from bench.engines.litert_classify import top_k
from bench.models.build import BuildSettings, build_variants
from bench.models.pruning import PruningSettings
from bench.models.variants import parse_variant_list
from bench.models.zoo import resolve_source
from bench.paths import cache_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imagenet", type=Path, required=True)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--variants", default="fp32,int8,pruned50")
    parser.add_argument("--prune-budget-s", type=float, default=600.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    source = resolve_source(args.model)
    settings = BuildSettings(cache_root=cache_dir(), imagenet=args.imagenet,
                             pruning=PruningSettings(budget_s=args.prune_budget_s))
    outcomes = build_variants(source, parse_variant_list(args.variants), settings)
    images = load_imagenet(args.imagenet).images
    evaluation = {image.name for image in eval_subset(images, None, SubsetRule.FIRST).images}
    print(f"{len(images)} images, {len(evaluation)} in the evaluation split")
    print("| variant | size MB | top-1 eval | top-5 eval | top-1 all | top-5 all | agree w/ fp32 | s |")
    print("|---|---|---|---|---|---|---|---|")
    reference = None
    for outcome in outcomes:
        if outcome.error or outcome.manifest is None or outcome.path is None:
            print(f"| {outcome.variant} | failed: {outcome.error} |")
            continue
        spec = outcome.manifest.preprocess
        data = preprocessed(images, spec, cache_dir())
        start = time.monotonic()
        predictions = top_k(outcome.path, np.asarray(data.pixels), normalize=normalizer(spec),
                            label_offset=spec.label_offset, num_threads=args.threads)
        seconds = time.monotonic() - start
        in_eval = np.array([name in evaluation for name in data.names])
        acc_eval = topk_accuracy(predictions[in_eval], data.labels[in_eval])
        acc_all = topk_accuracy(predictions, data.labels)
        if reference is None:
            reference = predictions
        agreement = top1_agreement(predictions[in_eval], reference[in_eval])
        print(f"| {outcome.variant} | {outcome.manifest.model_size_bytes / 1e6:.2f} | {100 * acc_eval['top1']:.1f} "
              f"| {100 * acc_eval['top5']:.1f} | {100 * acc_all['top1']:.1f} | {100 * acc_all['top5']:.1f} "
              f"| {100 * agreement:.1f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
