"""Benchmark: what bfloat16 and float16 cost the VQGAN tokenizer against float32, in one run.

For each preset (the `tiny` one the tests use and the real LVM configuration, both with random
weights: `VQGAN.random(preset)`), the same photographs (scikit-image's bundled files, resized to
256x256 as the pipeline does) are encoded in float32 (the reference: the LVM tokenize scripts run
the VQGAN in float32) and under CPU autocast in bfloat16 and float16. Reported per precision:
the share of codes equal to float32's, the images whose 256 codes are all equal, the distinct
codes used, and encode seconds per image (median of --rounds, the precisions timed side by side).
Random weights make a reconstruction PSNR meaningless, so nothing is decoded here; `uvd
tokenizer check CHECKPOINT` prints it for a real checkpoint.

Usage: python bench/precision.py [--tiny-images 15] [--lvm-images 7] [--rounds 3] [--lvm-rounds 1]
Prints a Markdown table and one JSON object last.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import load_average, machine  # noqa: E402

from uvd_pipeline.tokenizer import VQGAN  # noqa: E402
from uvd_pipeline.tokenizer.fidelity import compare_precisions, photographs  # noqa: E402

DTYPES = ["bfloat16", "float16"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-images", type=int, default=15)
    parser.add_argument("--lvm-images", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="timed encodes per precision (tiny)")
    parser.add_argument("--lvm-rounds", type=int, default=1, help="timed encodes per precision (lvm)")
    parser.add_argument("--presets", default="tiny,lvm")
    args = parser.parse_args()

    started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    for preset in args.presets.split(","):
        n = args.tiny_images if preset == "tiny" else args.lvm_images
        origin, named = photographs(n)
        pixels = np.stack([p for _, p in named])
        model = VQGAN.random(preset, seed=0, device="cpu", dtype="float32", batch_size=len(pixels))
        model.encode(pixels[:1])  # warm-up (first-call allocations)
        rounds = args.rounds if preset == "tiny" else args.lvm_rounds
        load_before = load_average()
        for report in compare_precisions(model, pixels, DTYPES, rounds=rounds, decode=False):
            row = {"preset": preset, **report.as_dict(), "photographs": [name for name, _ in named], "origin": origin}
            row.pop("psnr_db")
            results.append(row)
            print(f"{preset:5s} {report.dtype:9s} agreement {report.agreement:7.2%}  identical images "
                  f"{report.images_identical}/{report.images}  codes used {report.codes_used}  "
                  f"{report.seconds_per_image:.3f} s/image", flush=True)
        print(f"  load average {load_before} -> {load_average()}", flush=True)
        del model

    print()
    print("| preset | precision | images | codes equal to float32 | images all equal | codes used | s/image | vs float32 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        base = next(x for x in results if x["preset"] == r["preset"] and x["dtype"] == "float32")
        print(f"| {r['preset']} | {r['dtype']} | {r['images']} | {r['agreement']:.2%} | {r['images_identical']}/{r['images']} "
              f"| {r['codes_used']} | {r['seconds_per_image']:.3f} | {base['seconds_per_image'] / r['seconds_per_image']:.2f}× |")
    print(json.dumps({
        "machine": machine(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "started": started.isoformat(timespec="seconds"), "load_average_end": load_average(), "results": results,
    }))


if __name__ == "__main__":
    main()
