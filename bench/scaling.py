"""Benchmark: worker scaling, memory as the input grows, and the Ray engine against the in-process one.

Every run is a fresh child process (a fresh Ray cluster for the Ray engine) on the same folder
recipe (JPEG 640x480, the built-in "tiny" random VQGAN on CPU), timed from the start of the
run to its end (the local Ray cluster's start is timed apart and left out: on a real cluster
it is already up). Configurations alternate within each round; medians over rounds.

  scaling  Ray engine, 2 workers / 1 worker throughput; a worker is one core: the child and
           its whole Ray cluster are pinned to 1 core or 2 cores (CPU affinity), so the ratio
           says how well the pipeline uses a second core. Target >= 1.8.
  memory   peak memory of the whole run (driver + Ray processes: the child's process tree,
           sampled every 0.1 s with psutil) at 10x the input / at 1x, `uvd run --engine ray
           --workers 2`. Sum of RSS as asked (counts shared pages, e.g. the object store, once
           per process that maps them) and sum of PSS (shares them out). Target <= 1.2.
  engines  Ray engine throughput / in-process (`local`) engine throughput on the same recipe
           and machine, at the same --workers 1 (and Ray at 2 workers for reference).
           Target >= 0.85.

Throughput is reported twice: over the whole run, and "steady" (images committed between the
first and the last commit, over that time, from the ledger entries' times), which leaves out the
start-up of worker processes and tokenizer models: on a 2-core machine that start-up is seconds,
a large share of a short run, and nothing in a long one.

Usage: python bench/scaling.py [--images 160] [--unit-size 16] [--rounds 3] [--only scaling,memory,engines]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TreeRss, folder_recipe, load_average, machine, make_images, median  # noqa: E402

HERE = Path(__file__).resolve()


def child_main(argv: list[str]) -> None:
    """One timed run in this process; prints a JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("out")
    ap.add_argument("--engine", default="ray")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cores", type=int, default=0, help="pin this process tree to the first N cores")
    args = ap.parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    from uvd_pipeline.engines import run_recipe
    from uvd_pipeline.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    ray_start = 0.0
    if args.engine == "ray":
        import ray

        t = time.perf_counter()
        cpus = args.cores or os.cpu_count()
        ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)
        ray_start = time.perf_counter() - t
    t = time.perf_counter()
    summary = run_recipe(recipe, args.out, engine=args.engine, workers=args.workers, quiet=True)
    seconds = time.perf_counter() - t
    if summary.failures or summary.committed != summary.planned:
        raise SystemExit(f"run failed: {summary.failures}")
    print(json.dumps({"seconds": seconds, "ray_start_s": ray_start, "images": summary.dataset["totals"]["images"],
                      "steady_images_per_s": steady_rate(Path(args.out))}))


def steady_rate(out: Path) -> float:
    """Images per second between the first and the last commit (ledger entries' times): the run's
    throughput once start-up (worker processes, model loading) is behind it."""
    entries = sorted((p.stat().st_mtime, json.loads(p.read_text())["counts"]["images"]) for p in (out / "ledger").glob("*.json"))
    if len(entries) < 2 or entries[-1][0] <= entries[0][0]:
        return 0.0
    return sum(n for _, n in entries[1:]) / (entries[-1][0] - entries[0][0])


def run_child(recipe: Path, out: Path, *args: str) -> dict:
    cmd = [sys.executable, str(HERE), "child", str(recipe), str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli_measured(recipe: Path, out: Path, workers: int) -> dict:
    """`uvd run --engine ray` in a child; peak summed RSS and PSS of its process tree."""
    cmd = [sys.executable, "-m", "uvd_pipeline", "run", str(recipe), "--out", str(out), "--engine", "ray",
           "--workers", str(workers), "-q"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with TreeRss(proc.pid, every=0.1, pss=True) as probe:
        _, err = proc.communicate(timeout=3600)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return {"seconds": time.perf_counter() - start, "peak_rss": probe.peak, "peak_pss": probe.peak_pss,
            "samples": probe.samples}


def write_recipe(path: Path, images: Path, unit_size: int) -> Path:
    path.write_text(yaml.safe_dump(folder_recipe(images, unit_size)))
    return path


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        return child_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=160, help="images at 1x (the memory run also does 10x)")
    ap.add_argument("--unit-size", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="scaling,memory,engines")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    result: dict = {
        "benchmark": "scaling",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "machine": machine(),
        "load_average_before": load_average(),
        "images": args.images,
        "unit_size": args.unit_size,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        x10 = make_images(root / "x10", 10 * args.images if "memory" in parts else args.images)
        x1 = root / "x1"
        x1.mkdir()
        for p in sorted(x10.iterdir())[: args.images]:
            os.link(p, x1 / p.name)
        r1 = write_recipe(root / "x1.yaml", x1, args.unit_size)
        r10 = write_recipe(root / "x10.yaml", x10, args.unit_size)
        k = iter(range(10**6))

        def out() -> Path:
            return root / f"out{next(k)}"

        run_child(r1, out(), "--engine", "ray", "--workers", "1")  # warm caches and imports

        if "scaling" in parts:
            runs: dict[int, list[float]] = {1: [], 2: []}
            steady: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.rounds):
                for w in (1, 2):
                    got = run_child(r1, out(), "--engine", "ray", "--workers", str(w), "--cores", str(w))
                    runs[w].append(got["seconds"])
                    steady[w].append(got["steady_images_per_s"])
            t1, t2 = median(runs[1]), median(runs[2])
            s1, s2 = median(steady[1]), median(steady[2])
            result["scaling"] = {
                "engine": "ray", "images": args.images,
                "images_per_s_1_worker_1_core": round(args.images / t1, 2),
                "images_per_s_2_workers_2_cores": round(args.images / t2, 2),
                "ratio_2_over_1": round(t1 / t2, 3), "target": ">= 1.8", "target_met": t1 / t2 >= 1.8,
                "steady_images_per_s_1_worker_1_core": round(s1, 2),
                "steady_images_per_s_2_workers_2_cores": round(s2, 2),
                "steady_ratio_2_over_1": round(s2 / s1, 3) if s1 else None,
                "runs_s": {str(w): [round(t, 2) for t in ts] for w, ts in runs.items()},
                "steady_runs_images_per_s": {str(w): [round(x, 2) for x in xs] for w, xs in steady.items()},
            }

        if "engines" in parts:
            configs = {"local": ("--engine", "local"), "ray_1_worker": ("--engine", "ray", "--workers", "1"),
                       "ray_2_workers": ("--engine", "ray", "--workers", "2")}
            runs_e: dict[str, list[float]] = {k2: [] for k2 in configs}
            steady_e: dict[str, list[float]] = {k2: [] for k2 in configs}
            ray_start = []
            for _ in range(args.rounds):
                for k2, cfg in configs.items():
                    got = run_child(r1, out(), *cfg)
                    runs_e[k2].append(got["seconds"])
                    steady_e[k2].append(got["steady_images_per_s"])
                    if k2 == "ray_1_worker":
                        ray_start.append(got["ray_start_s"])
            med = {k2: median(v) for k2, v in runs_e.items()}
            smed = {k2: median(v) for k2, v in steady_e.items()}
            result["engines"] = {
                "images": args.images,
                **{f"{k2}_images_per_s": round(args.images / v, 2) for k2, v in med.items()},
                "ratio_ray_1_worker_over_local": round(med["local"] / med["ray_1_worker"], 3),
                "ratio_ray_2_workers_over_local": round(med["local"] / med["ray_2_workers"], 3),
                "target": ">= 0.85 (ray, 1 worker)", "target_met": med["local"] / med["ray_1_worker"] >= 0.85,
                **{f"steady_{k2}_images_per_s": round(v, 2) for k2, v in smed.items()},
                "steady_ratio_ray_1_worker_over_local": round(smed["ray_1_worker"] / smed["local"], 3),
                "local_ray_cluster_start_s_excluded": round(median(ray_start), 2),
                "runs_s": {k2: [round(t, 2) for t in v] for k2, v in runs_e.items()},
            }

        if "memory" in parts:
            mem: dict[str, list[dict]] = {"1x": [], "10x": []}
            for _ in range(args.rounds):
                mem["1x"].append(run_cli_measured(r1, out(), 2))
                mem["10x"].append(run_cli_measured(r10, out(), 2))
            rss = {k2: median([m["peak_rss"] for m in v]) for k2, v in mem.items()}
            pss = {k2: median([m["peak_pss"] for m in v]) for k2, v in mem.items()}
            result["memory"] = {
                "engine": "ray", "workers": 2, "images_1x": args.images, "images_10x": 10 * args.images,
                "peak_rss_mib_1x": round(rss["1x"] / 2**20), "peak_rss_mib_10x": round(rss["10x"] / 2**20),
                "ratio_rss_10x_over_1x": round(rss["10x"] / rss["1x"], 3),
                "peak_pss_mib_1x": round(pss["1x"] / 2**20), "peak_pss_mib_10x": round(pss["10x"] / 2**20),
                "ratio_pss_10x_over_1x": round(pss["10x"] / pss["1x"], 3),
                "target": "<= 1.2", "target_met": rss["10x"] / rss["1x"] <= 1.2,
                "run_s": {k2: [round(m["seconds"], 1) for m in v] for k2, v in mem.items()},
            }
    result["load_average_after"] = load_average()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
