"""Cold and warm build times of every variant, with sizes and sparsity.

    python benchmarks/build_times.py [--imagenet DIR] [--variants ...] [--prune-budget-s 600]

Cold: a fresh, empty cache, one `bench models build` process (its first variant also pays for
importing TensorFlow and porting the weights). Warm: the same command again on that cache; its
process wall time is what a user waits for a full cache hit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ALL = "fp32,fp16,int8,drq,pruned50,res192,res160,res128,dynamic"


def build(cache: str, args: argparse.Namespace) -> tuple[float, list[dict]]:  # type: ignore[type-arg]
    command = [sys.executable, "-m", "bench", "models", "build", "--variants", args.variants,
               "--prune-budget-s", str(args.prune_budget_s), "--json"]
    if args.imagenet:
        command += ["--imagenet", args.imagenet]
    start = time.monotonic()
    done = subprocess.run(command, env={**os.environ, "BENCH_CACHE": cache}, capture_output=True, text=True,
                          check=True)
    return time.monotonic() - start, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imagenet", default=None)
    parser.add_argument("--variants", default=ALL)
    parser.add_argument("--prune-budget-s", type=float, default=600.0)
    parser.add_argument("--cache", default=None, help="an empty folder to build into and keep (default: a temp one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-times-") as scratch:
        cache = args.cache or scratch
        if os.path.isdir(cache) and os.listdir(cache):
            raise SystemExit(f"{cache} is not empty: a cold build needs an empty cache")
        cold_wall, cold = build(cache, args)
        warm_wall, warm = build(cache, args)
    print(f"cold process wall time {cold_wall:.1f} s; warm (all cache hits) {warm_wall:.2f} s")
    print("| variant | cold build s | warm s | cache hit | size MB | input | sparsity (1x1+dense) | calibration |")
    print("|---|---|---|---|---|---|---|---|")
    for c, w in zip(cold, warm, strict=True):
        m = c["manifest"]
        if m is None:
            print(f"| {c['variant']} | failed: {c['error']} |")
            continue
        sparsity = m["weight_sparsity"]["overall"] if m["weight_sparsity"] else None
        calibration = f"{m['calibration']['source']} x{m['calibration']['count']}" if m["calibration"] else "-"
        print(f"| {c['variant']} | {c['duration_s']:.1f} | {w['duration_s']:.3f} | {w['cache_hit']} "
              f"| {m['model_size_bytes'] / 1e6:.2f} | {m['inputs'][0]['shape']} {m['inputs'][0]['dtype']} "
              f"| {'-' if sparsity is None else f'{sparsity:.4f}'} | {calibration} |")
        if m["details"].get("sparse_encoded"):
            s = m["details"]["sparse_encoded"]
            p = m["details"]["pruning"]
            print(f"|  ↳ sparse-encoded | | | | {s['model_size_bytes'] / 1e6:.2f} | loads on host: "
                  f"{s['loads_on_host']} {s['host_error'] or ''} | fine-tune {p['finetune_steps']} steps, "
                  f"{p['finetune_images_seen']} images, {p['finetune_duration_s']} s | |")


if __name__ == "__main__":
    main()
