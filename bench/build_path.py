"""Benchmark: the single-image build path against a bare PIL loop over the same files.

Pipeline path (1 worker, tokenizer excluded): read bytes -> decode -> preprocess to 256x256 ->
single-image sequences -> write shard + manifest + ledger (zero codes stand in for tokens).
Bare loop: PIL open + convert('RGB') + resize((256, 256)) per file.

Both run side by side, alternating, several rounds, in each of `--processes` fresh processes over
the same files; per process the medians and their ratio, and overall the median of the processes'
ratios, are printed with the CPU model (/proc/cpuinfo) and the load average before and after (the
ratio is only as clean as the machine is quiet). Several processes, because one process is not a
sample: the same JPEG decode of the same bytes runs at ~0.7 or ~1.0 ms per image depending on the
process (stable within it, for either loop, with or without Pillow's arena settings: measured on
Intel Xeon, 2026-12-02), which moves a one-process ratio by up to +-0.1.
`--profile N` adds a cProfile of the pipeline path (in the parent): the N functions with the largest
own time, as shares of the total, which do not depend on the load as the ratio does.
Usage: python bench/build_path.py [--images 300] [--rounds 5] [--processes 5] [--profile 15]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from uvd_pipeline.engines.unit import process_unit
from uvd_pipeline.exports.run_previews import new_run_memory
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
    memory = new_run_memory()  # as `uvd run` draws one per run (exports/run_previews.py)
    start = time.perf_counter()
    for unit in units:
        process_unit(builder, zero_codes, store, unit, memory)
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


def alternate(images: Path, scratch: Path, rounds: int, unit_size: int) -> dict[str, list[float]]:
    """One process's alternating rounds (after a warm-up of each loop): seconds per round."""
    files = sorted(images.glob("*.jpg"))
    bare_loop(files)  # warm the page cache and imports
    pipeline_path(images, scratch / "warm", unit_size)
    bare, pipe = [], []
    for r in range(rounds):
        bare.append(bare_loop(files))
        pipe.append(pipeline_path(images, scratch / f"out{r}", unit_size))
    return {"bare": bare, "pipeline": pipe}


def child_rounds(images: Path, rounds: int, unit_size: int) -> dict[str, list[float]]:
    """`alternate` in a fresh interpreter (its own heap layout and imports)."""
    with tempfile.TemporaryDirectory() as scratch:
        cmd = [sys.executable, __file__, "--child", str(images), scratch, "--rounds", str(rounds), "--unit-size", str(unit_size)]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--processes", type=int, default=5, help="fresh processes, each running every round")
    ap.add_argument("--unit-size", type=int, default=100)
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also profile one pass; list N functions")
    ap.add_argument("--child", nargs=2, metavar=("IMAGES", "SCRATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(alternate(Path(args.child[0]), Path(args.child[1]), args.rounds, args.unit_size)))
        return
    load_before = load_average()
    shares = None
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        make_files(images, args.images)
        runs = [child_rounds(images, args.rounds, args.unit_size) for _ in range(args.processes)]
        if args.profile:
            shares = profile_shares(images, Path(tmp) / "profiled", args.unit_size, args.profile)
    per_process = []
    for run in runs:
        b, p = statistics.median(run["bare"]), statistics.median(run["pipeline"])
        per_process.append({
            "bare_images_per_s": round(args.images / b, 1),
            "pipeline_images_per_s": round(args.images / p, 1),
            "ratio": round(b / p, 3),
            "round_ratios": [round(x / y, 3) for x, y in zip(run["bare"], run["pipeline"])],
        })
    ratios = [p["ratio"] for p in per_process]
    result = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "images": args.images,
        "rounds": args.rounds,
        "processes": args.processes,
        "unit_size": args.unit_size,
        "ratio_pipeline_over_bare": round(statistics.median(ratios), 3),
        "process_ratios": ratios,
        "per_process": per_process,
    }
    if shares is not None:
        result["profile_own_time_shares"] = shares
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
