"""Benchmark: the single-image build path against a bare PIL loop over the same files.

Pipeline path (1 worker, tokenizer excluded): read bytes -> decode -> preprocess to 256x256 ->
single-image sequences -> write shard + manifest + ledger (zero codes stand in for tokens).
Bare loop: PIL open + convert('RGB') + resize((256, 256)) per file.

Both run side by side, alternating, several rounds; medians and their ratio are printed, with the
CPU model (/proc/cpuinfo) and the load average before and after (the ratio is only as clean as the
machine is quiet). `--profile N` adds a cProfile of the pipeline path: the N functions with the
largest own time, as shares of the total, which do not depend on the load as the ratio does.
Usage: python bench/build_path.py [--images 300] [--rounds 5] [--profile 15]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from uvd_pipeline.engines.unit import process_unit
from uvd_pipeline.manifests.store import OutputStore
from uvd_pipeline.manifests.writer import prepare_output
from uvd_pipeline.pipeline import UnitBuilder, plan_units
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.samples.pictures import picture


def make_files(root: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        p = root / f"{i:05d}.jpg"
        picture(rng, 640, 480).save(p, quality=90)
        files.append(p)
    return files


def bare_loop(files: list[Path]) -> float:
    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            im.convert("RGB").resize((256, 256))
    return time.perf_counter() - start


def pipeline_path(images: Path, out: Path, unit_size: int) -> float:
    recipe = parse_recipe({
        "name": "bench", "sources": [{"name": "img", "plugin": "image_folder",
                                      "params": {"path": str(images), "unit_size": unit_size},
                                      "category": "unlabelled_images"}],
    })
    store = OutputStore(str(out))
    prepare_output(store)
    builder = UnitBuilder(recipe)
    units = plan_units(recipe)
    zero_codes = lambda px: np.zeros((len(px), 256), np.uint16)  # noqa: E731  tokenizer excluded
    start = time.perf_counter()
    for unit in units:
        process_unit(builder, zero_codes, store, unit)
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def profile_shares(images: Path, out: Path, unit_size: int, top: int) -> list[dict]:
    """Own time of the `top` costliest functions of one pipeline pass, as shares of the pass."""
    prof = cProfile.Profile()
    prof.enable()
    pipeline_path(images, out, unit_size)
    prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (calls, ncalls, tottime, cumtime, callers)}
    total = sum(v[2] for v in stats.values())
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [
        {"function": f"{Path(f).name}:{line}({name})", "calls": v[1], "own_share": round(v[2] / total, 3)}
        for (f, line, name), v in ranked
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--unit-size", type=int, default=100)
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also profile one pass; list N functions")
    args = ap.parse_args()
    load_before = load_average()
    shares = None
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp) / "images", args.images)
        bare, pipe = [], []
        bare_loop(files)  # warm the page cache and imports
        pipeline_path(Path(tmp) / "images", Path(tmp) / "warm", args.unit_size)
        for r in range(args.rounds):
            bare.append(bare_loop(files))
            pipe.append(pipeline_path(Path(tmp) / "images", Path(tmp) / f"out{r}", args.unit_size))
        if args.profile:
            shares = profile_shares(Path(tmp) / "images", Path(tmp) / "profiled", args.unit_size, args.profile)
    b, p = statistics.median(bare), statistics.median(pipe)
    result = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "images": args.images,
        "rounds": args.rounds,
        "bare_images_per_s": round(args.images / b, 1),
        "pipeline_images_per_s": round(args.images / p, 1),
        "ratio_pipeline_over_bare": round(b / p, 3),
        "rounds_bare_s": [round(x, 3) for x in bare],
        "rounds_pipeline_s": [round(x, 3) for x in pipe],
        "round_ratios": [round(x / y, 3) for x, y in zip(bare, pipe)],
    }
    if shares is not None:
        result["profile_own_time_shares"] = shares
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
