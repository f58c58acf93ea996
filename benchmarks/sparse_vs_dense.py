"""Does the sparse-encoded copy of a pruned variant run faster than its dense file on this host?

    python benchmarks/sparse_vs_dense.py [--variant pruned50] [--rounds 3] [--num-runs 200]

Builds (or finds in the cache) the variant, then measures its dense `model.tflite` and its
sparse-encoded `model.sparse.tflite` with bench's host runner (LiteRT with XNNPACK, one thread),
alternating which goes first in each round so that drift hits both alike. Prints each file's size,
the median of its per-round p50s, and the ratio. XNNPACK's sparse kernels run only where the
sparse subgraph rules of its README hold (a 3x3 stride-2 stem with padding 1 on each side, at least
2/3 of the 1x1 convolution weights zero, ...); elsewhere LiteRT densifies the weights once at load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.config import load_config
from bench.models.build import BuildSettings, build_variants
from bench.models.pruning import PruningSettings
from bench.models.variants import parse_variant
from bench.models.zoo import resolve_source
from bench.paths import cache_dir


def _p50(model: Path, num_runs: int, store: Path) -> float:
    command = [sys.executable, "-m", "bench", "run", "--model", str(model), "--variants", "original",
               "--threads", "1", "--num-runs", str(num_runs), "--store", str(store), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):
        raise SystemExit(f"bench run failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(json.loads(done.stdout)["results"][0]["latency_ms"]["p50"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", default="pruned50")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-runs", type=int, default=200)
    args = parser.parse_args()
    source = resolve_source("efficientnet_lite0")
    config = load_config(None)  # the settings `bench run` builds with, so its cached variant is found
    settings = BuildSettings(cache_root=cache_dir(), imagenet=config.dataset.imagenet,
                             int8_calibration_images=config.build.calibration_images,
                             pruning_calibration_images=config.build.prune_images,
                             pruning=PruningSettings(budget_s=config.build.prune_budget_s))
    outcome = build_variants(source, [parse_variant(args.variant)], settings)[0]
    if outcome.path is None or outcome.manifest is None:
        raise SystemExit(f"{args.variant} not built: {outcome.error}")
    sparse = outcome.manifest.details.get("sparse_encoded") or {}
    files = {"dense": outcome.path, "sparse": outcome.path.with_name(sparse.get("file", "model.sparse.tflite"))}
    if not sparse.get("loads_on_host"):
        raise SystemExit(f"this host's LiteRT does not load the sparse file: {sparse.get('host_error')}")
    p50s: dict[str, list[float]] = {name: [] for name in files}
    with tempfile.TemporaryDirectory(prefix="bench-sparse-") as folder:
        store = Path(folder) / "results.sqlite"
        for round_number in range(args.rounds):
            order = list(files) if round_number % 2 == 0 else list(reversed(files))
            for name in order:
                p50s[name].append(_p50(files[name], args.num_runs, store))
    for name, path in files.items():
        print(f"{name:6s} {path.stat().st_size / 1e6:6.2f} MB  p50 {statistics.median(p50s[name]):.3f} ms "
              f"(rounds: {', '.join(f'{v:.3f}' for v in p50s[name])})")
    ratio = statistics.median(p50s["sparse"]) / statistics.median(p50s["dense"])
    print(f"sparse / dense p50: {ratio:.3f}")


if __name__ == "__main__":
    main()
