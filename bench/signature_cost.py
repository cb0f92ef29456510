"""Benchmark: the curation signature pass per image against the single-image build path, side by
side on the same JPEG files (alternating rounds, medians, their ratio; target <= 0.25).

Build path: bench/build_path.py's pipeline path (decode, 256x256, sequences, shard + manifest +
ledger; tokenizer excluded). Signature pass: the curation task that reads a unit at reduced JPEG
scale, hashes, measures and commits its signature table (no filters).

Usage: python bench/signature_cost.py [--images 300] [--rounds 5] [--size 640x480]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import folder_recipe, load_average, machine, make_images  # noqa: E402
from build_path import pipeline_path  # noqa: E402

from uvd_pipeline.curation.passes import sign_task  # noqa: E402
from uvd_pipeline.manifests.store import OutputStore  # noqa: E402
from uvd_pipeline.pipeline import plan_units  # noqa: E402
from uvd_pipeline.recipe import parse_recipe  # noqa: E402


def signature_pass(images: Path, out: Path, unit_size: int, filters: bool = False) -> float:
    recipe = parse_recipe({**folder_recipe(images, unit_size),
                           "curation": {"dedup": True, "filters": [{"plugin": "image_stats"}] if filters else []}})
    store = OutputStore(str(out))
    units = plan_units(recipe)
    row = recipe.to_dict()
    start = time.perf_counter()
    for unit in units:
        sign_task({"recipe": row, "unit": unit.to_row(), "store": store.url})
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--unit-size", type=int, default=100)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--filters", action="store_true", help="with image_stats (decodes at >= 256 px a side)")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(Path(tmp) / "images", args.images, (w, h))
        build, sign = [], []
        pipeline_path(images, Path(tmp) / "warm-b", args.unit_size)  # imports, page cache
        signature_pass(images, Path(tmp) / "warm-s", args.unit_size, args.filters)
        for r in range(args.rounds):
            build.append(pipeline_path(images, Path(tmp) / f"b{r}", args.unit_size))
            sign.append(signature_pass(images, Path(tmp) / f"s{r}", args.unit_size, args.filters))
    b, s = statistics.median(build), statistics.median(sign)
    print(json.dumps({
        "machine": machine(), "load_average": load_average(), "images": args.images, "size": args.size,
        "rounds": args.rounds, "filters": ["image_stats"] if args.filters else [], "build_ms_per_image": round(b / args.images * 1000, 2),
        "signature_ms_per_image": round(s / args.images * 1000, 2),
        "ratio_signature_over_build": round(s / b, 3), "build_rounds_s": [round(x, 2) for x in build],
        "signature_rounds_s": [round(x, 2) for x in sign],
    }, indent=1))


if __name__ == "__main__":
    main()
