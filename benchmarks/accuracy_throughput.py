"""Does preprocessing or I/O throttle accuracy jobs? Accuracy throughput vs the bare interpreter's.

    python benchmarks/accuracy_throughput.py --imagenet ../shared/imagenet-val-sample [--images 500]

One `bench run` (after a warm-up run that fills the variant and preprocessed-tensor caches). For
each job, the bare interpreter's throughput is its timing FPS (1000 / mean latency) and the accuracy
throughput is images / wall time of the whole accuracy job (loading the cached tensors, launching
the runner, feeding, invoking and scoring every image). Target: ratio at least 0.9.

The timing FPS and the accuracy job run seconds apart, and on a shared host throughput moves by
10% over seconds; so the script also gives the ratio to the same job's own invoke-only throughput
over the same images in the same seconds (`vs invokes`), which isolates what input handling costs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imagenet", required=True)
    parser.add_argument("--images", default="500")
    parser.add_argument("--variants", default="fp32,int8,res160")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-acc-throughput-") as folder:
        store = os.path.join(folder, "s.sqlite")
        command = [sys.executable, "-m", "bench", "run", "--device", "local", "--variants", args.variants,
                   "--imagenet", args.imagenet, "--images", args.images, "--store", store, "--json"]
        subprocess.run(command, capture_output=True, text=True)  # fill the caches
        run = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
        export = json.loads(subprocess.run([sys.executable, "-m", "bench", "export", run["run_id"], "--store", store],
                                           capture_output=True, text=True, check=True).stdout)
    print("| variant | bare interpreter img/s | accuracy job img/s | ratio | invoke-only img/s | vs invokes | top-1 "
          "| images |")
    print("|---|---|---|---|---|---|---|---|")
    for r in export["results"]:
        if r["status"] != "ok" or not r["accuracy"]:
            print(f"| {r['variant']} | failed: {r['error']} |")
            continue
        bare = r["latency_ms"]["fps"]
        acc = r["accuracy"]["images"] / r["accuracy"]["duration_s"]
        classify = json.loads(r["raw"]["raw_output"].strip().splitlines()[-1])["classify"]
        invokes = classify["images"] / classify["invoke_s"]
        print(f"| {r['variant']} | {bare:.1f} | {acc:.1f} | {acc / bare:.2f} | {invokes:.1f} | {acc / invokes:.2f} "
              f"| {100 * r['accuracy']['top1']:.1f} | {r['accuracy']['images']} |")


if __name__ == "__main__":
    main()
