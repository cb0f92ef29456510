"""Unit-timeout trials (RELIABILITY.md §6): what `--unit-timeout` costs when nothing hangs, and how
much time one hung unit costs, per engine.

Workload: 6 PNGs in 3 units of 2 (the `test_stall` source of tests/engines/stall_plugins.py,
installed here through a temporary entry point), tiny random VQGAN. Per engine and trial, three
`uvd run` commands, side by side in one loop: without a timeout; with `--unit-timeout T`; with
`--unit-timeout T` and the second unit's read hung forever (it is killed at T, retried once,
then failed: exit 1). Wall times are medians over the trials.

Usage: python bench/timeout_trials.py [--trials 3] [--timeout 5] [--engines local,ray,beam]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.engines.stall_plugins import ENTRY_POINTS, stall_recipe, write_images  # noqa: E402


def _open_fifo(path: str) -> None:
    open(path, "rb").close()  # blocks until a writer opens the FIFO: never, here


def mechanism(root: Path, trials: int, images: Path) -> None:
    """Why a child process and not a thread: a thread blocked in open() on a FIFO cannot be stopped;
    a process blocked there dies on SIGKILL. And what a fresh child builder costs to start."""
    import multiprocessing
    import threading

    from uvd_pipeline.engines.timeouts import IsolatedBuilder
    from uvd_pipeline.recipe import parse_recipe

    fifo = root / "fifo.jpg"
    os.mkfifo(fifo)
    thread = threading.Thread(target=_open_fifo, args=(str(fifo),), daemon=True)
    thread.start()
    thread.join(2.0)
    print(f"thread blocked in open(FIFO): still alive after 2 s: {thread.is_alive()} (Python offers no way to stop it)")
    kills, starts = [], []
    ctx = multiprocessing.get_context("spawn")
    for _ in range(trials):
        proc = ctx.Process(target=_open_fifo, args=(str(fifo),))
        proc.start()
        time.sleep(1.0)
        t0 = time.perf_counter()
        proc.kill()
        proc.join()
        kills.append(1000 * (time.perf_counter() - t0))
        plain = stall_recipe(images)
        plain["sources"][0].update(plugin="image_folder", params={"path": str(images)})
        builder = IsolatedBuilder(parse_recipe(plain), timeout=60)
        t0 = time.perf_counter()
        builder._start()
        starts.append(time.perf_counter() - t0)
        builder.close()
    print(f"process blocked in open(FIFO), SIGKILL to reaped: median {statistics.median(kills):.1f} ms; "
          f"a fresh child builder (spawn, import, recipe): median {statistics.median(starts):.2f} s "
          f"(min {min(starts):.2f}, max {max(starts):.2f}; {trials} trials)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--engines", default="local,ray,beam")
    args = ap.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{time.strftime('%Y-%m-%d')}  {cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="uvd-timeout-trials-"))
    try:
        images = write_images(root / "images", 6)
        dist = root / "site" / "uvd_stall_plugins-0.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: uvd-stall-plugins\nVersion: 0.0\n")
        (dist / "entry_points.txt").write_text(ENTRY_POINTS)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "site"), str(REPO)])}
        (root / "plain.yaml").write_text(yaml.safe_dump(stall_recipe(images)))
        (root / "hung.yaml").write_text(yaml.safe_dump(stall_recipe(images, stall_on="img02.png")))
        cases = {"no timeout": ("plain.yaml", []), f"--unit-timeout {args.timeout:g}": ("plain.yaml", ["--unit-timeout", str(args.timeout)]),
                 f"--unit-timeout {args.timeout:g}, one unit hung": ("hung.yaml", ["--unit-timeout", str(args.timeout)])}
        mechanism(root, args.trials, images)
        for engine in [e for e in args.engines.split(",") if e]:
            times: dict[str, list[float]] = {name: [] for name in cases}
            for trial in range(args.trials):
                for n, (name, (recipe, extra)) in enumerate(cases.items()):
                    out = root / f"out-{engine}-{trial}-{n}"
                    t0 = time.perf_counter()
                    res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "-q", "run", str(root / recipe), "--out",
                                          str(out), "--engine", engine, *extra], env=env, capture_output=True, text=True)
                    times[name].append(time.perf_counter() - t0)
                    want = 1 if "hung" in name else 0
                    assert res.returncode == want, (engine, name, res.returncode, res.stderr[-2000:])
                    if want:
                        assert "UnitTimeout: unit stalling-000001" in " ".join(res.stderr.split()), res.stderr[-2000:]
            med = {name: statistics.median(v) for name, v in times.items()}
            names = list(cases)
            print(f"{engine}: " + "; ".join(f"{k} {med[k]:.1f} s" for k in names)
                  + f"; cost of the hung unit {med[names[2]] - med[names[1]]:+.1f} s"
                  + f" (2 x timeout = {2 * args.timeout:g} s); load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
