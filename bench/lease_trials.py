"""Lease trials (RELIABILITY.md §6): how long a second writer takes to be refused, and how long a
stale lease takes to be recovered, on a local disk.

  1. `uvd run` on an output whose lease a live process holds: wall time until exit 2 (process
     start-up and planning included);
  2. a lease left by a dead process on this host: time for acquire() to take it over;
  3. a lease from another host that stopped beating (interval I): time from its last heartbeat
     until a contender polling every 50 ms takes it over (expected: 6 x I).

Usage: python bench/lease_trials.py [--trials 5] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from uvd_pipeline.engines.lease import LEASE_FILE, LeaseHeld, OutputLease, _boot_id
from uvd_pipeline.manifests.store import OutputStore

RECIPE = """name: lease_trial
tokenizer: {preset: tiny}
sources:
  - {name: img, plugin: image_folder, category: unlabelled_images, params: {path: IMAGES}}
"""


def refused_run(root: Path) -> float:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "images" / "a.png")
    (root / "r.yaml").write_text(RECIPE.replace("IMAGES", str(root / "images")))
    holder = OutputLease(OutputStore(str(root / "out")))
    (root / "out").mkdir()
    holder.acquire()
    try:
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "run", str(root / "r.yaml"), "--out",
                              str(root / "out"), "--engine", "local", "-q"], capture_output=True, text=True)
        took = time.perf_counter() - t0
        assert res.returncode == 2 and "another `uvd run` is writing this output" in " ".join(res.stderr.split())
    finally:
        holder.release()
    return took


def dead_holder(root: Path) -> float:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lease = {"owner": "x", "host": socket.gethostname(), "boot_id": _boot_id(), "pid": dead.pid,
             "heartbeat": time.time(), "interval": 10.0}
    root.mkdir(parents=True, exist_ok=True)
    (root / LEASE_FILE).write_text(json.dumps(lease))
    t0 = time.perf_counter()
    taker = OutputLease(OutputStore(str(root)))
    taker.acquire()
    took = time.perf_counter() - t0
    taker.release()
    return took


def silent_host(root: Path, interval: float) -> float:
    root.mkdir(parents=True, exist_ok=True)
    last = time.time()
    (root / LEASE_FILE).write_text(json.dumps({"owner": "x", "host": "elsewhere", "boot_id": "b", "pid": 1,
                                               "heartbeat": last, "interval": interval}))
    while True:
        taker = OutputLease(OutputStore(str(root)), interval=interval)
        try:
            taker.acquire()
            took = time.time() - last
            taker.release()
            return took
        except LeaseHeld:
            time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--interval", type=float, default=0.5)
    args = ap.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{time.strftime('%Y-%m-%d')}  {cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {
            "second `uvd run` refused (s, wall)": [refused_run(Path(tmp) / f"r{i}") for i in range(args.trials)],
            "dead holder on this host taken over (ms)": [1000 * dead_holder(Path(tmp) / f"d{i}") for i in range(args.trials)],
            f"silent host taken over, interval {args.interval} s (s)": [
                silent_host(Path(tmp) / f"s{i}", args.interval) for i in range(args.trials)],
        }
    for name, values in rows.items():
        print(f"{name}: median {statistics.median(values):.2f}, min {min(values):.2f}, max {max(values):.2f} "
              f"({len(values)} trials)")


if __name__ == "__main__":
    main()
