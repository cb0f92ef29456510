"""Benchmark: the curation cluster pass at 10^6 and 10^7 synthetic signatures (Ray, 2 workers).

Each size runs in a fresh child process: it writes synthetic signature tables (10^4 records a
unit; random 64-bit hashes; ~10% planted near copies of earlier records at distance 0..threshold,
~1% exact copies with the same image id; unit 0 is an eval set), starts a local Ray cluster
(2 CPUs), then times `cluster_pass` alone (table writing and Ray's start are left out) while a
thread samples the RSS of the child and every process below it (Ray's raylet, GCS and workers)
every 0.25 s with psutil. Prints one JSON line per size and a summary with the 10^7 / 10^6 time
ratio (target <= 12) and the peak memory.

With --views every record also carries nine window hashes and a tint, as the signature pass
writes them (curation/views.py): random, and a planted copy takes its source's windows (flipped
like its full hash) and tint. A record then gives up to ten band rows per table. Without it the
tables hold the full hash only (the pass plans one band row per record, as before windows).

Usage: python bench/cluster_scale.py [--sizes 1000000,10000000] [--threshold 6] [--workers 2]
                                     [--m M] [--views] [--out /tmp/uvd-cluster-bench]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine  # noqa: E402

PER_UNIT = 10_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_strings(raw: np.ndarray) -> pa.Array:
    """(n, 16) uint8 -> n strings of 32 lowercase hex chars, without a Python loop."""
    n = len(raw)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 32 * n + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def synthetic(n: int, threshold: int, seed: int = 0, views: bool = False) -> tuple[np.ndarray, ...]:
    """(hashes: (n, 1), or (n, 10) with views: full hash then windows; ids; tints; planted counts)."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size=(n, 10 if views else 1), dtype=np.uint64)
    tints = rng.integers(0, 2**16, size=n, dtype=np.uint16)
    ids = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    kind = rng.random(n)
    near = np.flatnonzero(kind < 0.10)
    exact = np.flatnonzero((kind >= 0.10) & (kind < 0.11))
    copies = np.sort(np.concatenate([near, exact]))
    copies = copies[copies > 0]
    source = (rng.random(len(copies)) * copies).astype(np.int64)  # an earlier record
    # near copies: d uniform in 0..threshold distinct bits flipped
    is_near = np.isin(copies, near)
    d = rng.integers(0, threshold + 1, size=len(copies))
    flips = np.zeros(len(copies), dtype=np.uint64)
    for chunk in range(0, len(copies), 200_000):
        part = slice(chunk, chunk + 200_000)
        order = np.argsort(rng.random((len(flips[part]), 64)), axis=1)
        for k in range(threshold):
            on = (k < d[part]) & is_near[part]
            flips[part] |= np.where(on, np.uint64(1) << order[:, k].astype(np.uint64), np.uint64(0))
    for c, s, f, near_copy in zip(np.array_split(copies, 50), np.array_split(source, 50), np.array_split(flips, 50),
                                  np.array_split(is_near, 50)):
        hashes[c] = hashes[s] ^ f[:, None]  # sources earlier than copies: copies of copies chain
        tints[c] = tints[s]
        ids[c[~near_copy]] = ids[s[~near_copy]]
    return hashes, ids, tints, {"near_copies": int(is_near.sum()), "exact_copies": int((~is_near).sum())}


def write_tables(root: Path, n: int, threshold: int, views: bool = False) -> tuple[list[dict], dict[str, int]]:
    from uvd_pipeline.manifests.store import OutputStore

    hashes, ids, tints, planted = synthetic(n, threshold, views=views)
    store = OutputStore(str(root))
    store.makedirs("curation/signatures")
    refs = []
    for u, start in enumerate(range(0, n, PER_UNIT)):
        end = min(n, start + PER_UNIT)
        unit = f"s{u % 3}-{u:06d}"
        table = pa.table({
            "record": pa.array([f"r{i:07d}" for i in range(end - start)], pa.string()),
            "image_id": hex_strings(ids[start:end]),
            "position": pa.array(np.zeros(end - start, np.int16)),
            "phash": pa.array(hashes[start:end, 0]),
        })
        if views:
            flat = pa.array(hashes[start:end, 1:].reshape(-1))
            table = table.append_column("views", pa.FixedSizeListArray.from_arrays(flat, 9))
            table = table.append_column("tint", pa.array(tints[start:end]))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        path = f"curation/signatures/{unit}.arrow"
        store.write_bytes(path, sink.getvalue().to_pybytes())
        refs.append({"unit": unit, "source": "eval" if u == 0 else f"s{u % 3}", "rank": 0 if u == 0 else 1 + u % 3,
                     "is_eval": u == 0, "path": path, "rows": end - start})
    return refs, planted


class MemorySampler(threading.Thread):
    def __init__(self, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.every = every
        self.stop = threading.Event()
        self.peak_total = self.peak_driver = self.peak_worker = 0
        self.cpu: dict[int, float] = {}  # pid -> user + system seconds, last seen

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                kids = self.me.children(recursive=True)
                driver = self.me.memory_info().rss
                rss = []
                for k in kids:
                    try:
                        rss.append((k.memory_info().rss, " ".join(k.cmdline()[:2])))
                        t = k.cpu_times()
                        self.cpu[k.pid] = t.user + t.system
                    except psutil.Error:
                        pass
                self.peak_driver = max(self.peak_driver, driver)
                self.peak_total = max(self.peak_total, driver + sum(r for r, _ in rss))
                workers = [r for r, cmd in rss if "default_worker" in cmd or "ray::" in cmd]
                self.peak_worker = max([self.peak_worker, *workers])
            except psutil.Error:
                pass
            self.stop.wait(self.every)


def _tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of this process and every process below it, by pid."""
    import psutil

    out = {}
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def one(n: int, threshold: int, workers: int, m: int | None, out: Path, views: bool = False) -> dict:
    import ray

    from uvd_pipeline.curation import cluster_pass
    from uvd_pipeline.engines.tasks import RayTaskRunner
    from uvd_pipeline.manifests.store import OutputStore

    root = out / f"n{n}"
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    refs, planted = write_tables(root, n, threshold, views)
    generate_s = time.perf_counter() - t0
    ray.init(num_cpus=workers, include_dashboard=False, configure_logging=False, log_to_driver=False,
             object_store_memory=256 * 2**20)
    ray.get([ray.remote(num_cpus=0.01)(lambda: 0).remote() for _ in range(workers)])  # workers up
    sampler = MemorySampler()
    before = _tree_cpu()
    sampler.start()
    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    result = cluster_pass(OutputStore(str(root)), refs, threshold, RayTaskRunner(workers=workers), m=m,
                          hashes_per_row=10 if views else 1,
                          on_stage=lambda name, k: stages.append((name, time.perf_counter())))
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    after = _tree_cpu()
    cpu_seconds = sum(after.get(p, sampler.cpu.get(p, 0.0)) - before.get(p, 0.0) for p in set(sampler.cpu) | set(after))
    ray.shutdown()
    ends = [t for _, t in stages[1:]] + [t0 + seconds]
    per_stage: dict[str, float] = {}
    for (name, start), end in zip(stages, ends):
        key = "rounds" if name.startswith("round") else name
        per_stage[key] = round(per_stage.get(key, 0.0) + end - start, 2)
    shutil.rmtree(root, ignore_errors=True)
    s = result.stats
    return {
        "records": n, "views": views, "hashes": n * (10 if views else 1), "threshold": threshold, "workers": workers, "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 1),
        "stage_seconds": per_stage, "generate_seconds": round(generate_s, 1), "planted": planted,
        "peak_rss_total_mib": round(sampler.peak_total / 2**20), "peak_rss_driver_mib": round(sampler.peak_driver / 2**20),
        "peak_rss_one_worker_mib": round(sampler.peak_worker / 2**20),
        "bytes_exchanged": s["bytes_exchanged"], "band_rows": s["band_rows"], "m": s["m"], "tables": s["tables"],
        "partitions": s["partitions"], "pairs_compared": s["pairs_compared"], "edges": s["edges"],
        "rounds": s["rounds"], "clusters": s["clusters"], "largest_bucket": s["largest_bucket"],
        "dropped": s["dropped"], "cluster_sizes": s["cluster_sizes"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--threshold", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--m", type=int, default=None)
    ap.add_argument("--views", action="store_true", help="window hashes and tints as the signature pass writes")
    ap.add_argument("--out", default="/tmp/uvd-cluster-bench")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)
    if args.one is not None:
        print(json.dumps(one(args.one, args.threshold, args.workers, args.m, out, args.views)), flush=True)
        return
    runs = []
    for n in [int(float(x)) for x in args.sizes.split(",")]:
        cmd = [sys.executable, __file__, "--one", str(n), "--threshold", str(args.threshold),
               "--workers", str(args.workers), "--out", str(out)] + (["--m", str(args.m)] if args.m else []) + (
                   ["--views"] if args.views else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            sys.exit(proc.returncode)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), flush=True)
    summary = {
        "machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "load_average_after": load_average(), "runs": [{k: r[k] for k in ("records", "m", "seconds", "cpu_seconds", "peak_rss_total_mib")} for r in runs],
    }
    if len(runs) >= 2:
        summary["time_ratio"] = round(runs[-1]["seconds"] / runs[0]["seconds"], 2)
        summary["cpu_ratio"] = round(runs[-1]["cpu_seconds"] / runs[0]["cpu_seconds"], 2)
        summary["size_ratio"] = runs[-1]["records"] / runs[0]["records"]
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
