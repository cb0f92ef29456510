"""Benchmark: does the Ray engine overlap the CPU stages with the tokenizer?

A stand-in tokenizer sleeps a fixed time per image (a GPU seen from the host: time, no CPU) behind
the real CPU stages (read JPEG, decode, resize to 256, sequence, write + commit). Three timings:

  cpu   the pipeline with a zero-cost tokenizer: the CPU stages alone
  tok   the tokenizer stage alone: the engine's tokenizer actor started and fed every unit's
        images (arrays of the units' sizes), from its start to its last answer
  pipe  the pipeline with the stand-in

Each includes its own start-up (worker processes, the actor importing torch), as a run does.
overlap = pipe / max(cpu, tok); 1.0 is perfect overlap, 2.0 none at all when cpu = tok. By default
the stand-in's time per image is chosen so that tok = cpu (the hardest case). Each shape of the
engine (units in flight = 1 x workers, the old shape; and 2 x workers, the default) is measured
side by side, alternating, for several rounds; medians are reported. Target: overlap <= 1.15.

Usage: python bench/overlap.py [--images 960] [--unit-size 16] [--workers 2] [--rounds 3] [--in-flight 1,2,4]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SleepTokenizer, folder_recipe, load_average, machine, make_images, median, register_by_value  # noqa: E402

from uvd_pipeline.engines import run_recipe  # noqa: E402
from uvd_pipeline.recipe import parse_recipe  # noqa: E402


def run_once(recipe, out: Path, workers: int, in_flight: int, seconds_per_image: float) -> tuple[float, int]:
    start = time.perf_counter()
    summary = run_recipe(
        recipe, str(out), engine="ray", workers=workers, quiet=True,
        tokenizer_factory=SleepTokenizer(seconds_per_image), units_in_flight=in_flight,
        tokenizer_actors=1,  # the stand-in is one GPU
    )
    elapsed = time.perf_counter() - start
    if summary.failures or summary.committed != summary.planned:
        raise SystemExit(f"benchmark run failed: {summary.failures}")
    return elapsed, summary.dataset["totals"]["images"]


def tokenizer_alone(seconds_per_image: float, unit_images: list[int]) -> float:
    """The engine's tokenizer actor alone (same class and resources as in a run), fed each
    unit's images, one call per unit as the unit tasks make them."""
    import ray

    from uvd_pipeline.engines.ray_engine import _TokenizerActor
    from uvd_pipeline.recipe import TokenizerSpec

    pixels = {n: np.zeros((n, 256, 256, 3), np.uint8) for n in set(unit_images)}
    actor_cls = ray.remote(_TokenizerActor).options(num_cpus=0.5)
    start = time.perf_counter()
    actor = actor_cls.remote(TokenizerSpec().model_dump(mode="json"), "cpu", 1, SleepTokenizer(seconds_per_image))
    ray.get([actor.encode.remote(pixels[n]) for n in unit_images])
    elapsed = time.perf_counter() - start
    ray.kill(actor)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=960)
    ap.add_argument("--unit-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--in-flight", default="1,2", help="units in flight to compare, as multiples of --workers")
    ap.add_argument("--seconds-per-image", type=float, default=None,
                    help="stand-in tokenizer cost (default: chosen so that tok = cpu)")
    args = ap.parse_args()

    import ray

    register_by_value()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, configure_logging=False, log_to_driver=False)
    factors = [int(f) for f in args.in_flight.split(",")]
    shapes = {f"in_flight={f}xworkers": f * args.workers for f in factors}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recipe = parse_recipe(folder_recipe(make_images(root / "images", args.images), args.unit_size))
        unit_images = [min(args.unit_size, args.images - i) for i in range(0, args.images, args.unit_size)]
        k = 0

        def fresh() -> Path:
            nonlocal k
            k += 1
            return root / f"out{k}"

        run_once(recipe, fresh(), args.workers, max(shapes.values()), 0.0)  # warm the workers and page cache
        cpu = {name: [] for name in shapes}
        for name, in_flight in shapes.items():
            cpu[name].append(run_once(recipe, fresh(), args.workers, in_flight, 0.0)[0])
        spi = args.seconds_per_image
        if spi is None:  # tok = cpu: the stand-in's work fills what start-up leaves of the cpu time
            startup = tokenizer_alone(0.0, unit_images)
            spi = max(0.0, median([t for ts in cpu.values() for t in ts]) - startup) / args.images
        pipe = {name: [] for name in shapes}
        tok = []
        for r in range(args.rounds):
            tok.append(tokenizer_alone(spi, unit_images))
            for name, in_flight in shapes.items():
                if r:  # round 0's cpu timing was taken above, to size the stand-in
                    cpu[name].append(run_once(recipe, fresh(), args.workers, in_flight, 0.0)[0])
                pipe[name].append(run_once(recipe, fresh(), args.workers, in_flight, spi)[0])
    ray.shutdown()

    t_tok = median(tok)
    result = {
        "benchmark": "overlap",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "machine": machine(),
        "load_average": load_average(),
        "images": args.images,
        "unit_size": args.unit_size,
        "workers": args.workers,
        "rounds": args.rounds,
        "stand_in_seconds_per_image": round(spi, 5),
        "tokenizer_alone_s": round(t_tok, 2),
        "shapes": {},
    }
    for name in shapes:
        t_cpu, t_pipe = median(cpu[name]), median(pipe[name])
        result["shapes"][name] = {
            "cpu_stages_alone_s": round(t_cpu, 2),
            "pipeline_s": round(t_pipe, 2),
            "overlap_ratio": round(t_pipe / max(t_cpu, t_tok), 3),
            "target_met": t_pipe / max(t_cpu, t_tok) <= 1.15,
            "cpu_runs_s": [round(t, 2) for t in cpu[name]],
            "pipeline_runs_s": [round(t, 2) for t in pipe[name]],
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
