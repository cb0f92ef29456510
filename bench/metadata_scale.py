"""Benchmark: metadata commands as the number of committed units grows (issue 17.2).

Fabricates N committed units through the writer's own `commit_unit` (a token shard, a zstd Arrow
manifest, a rejects file and the ledger entry, as a run commits them; 2 single-image sequences and
1 reject per unit, so the data is tiny and what grows is the number of units), then the end-of-run
summary (roll-ups, dataset.json, palette.json, the seal) as `uvd run` writes it. Then each command
runs in a fresh child process, one after the other, and reports its wall time, its CPU time (all
threads; less sensitive to a loaded machine than wall time), its peak memory
(the child's VmHWM: the interpreter and imports included; `baseline` is a child that only
imports), and the storage operations it made (OutputStore reads, lists, existence checks,
writes, and local files opened directly: on an object store each is at least one request):

  plan       planning a resume as `uvd run` does before building: the identity check against the
             pinned unit inventory (engines/identity.py check_resume) and which units are done
             (pending_units: one listing of the ledger)
  verify     `uvd verify` (verify_dataset)
  digest     `uvd digest`
  audit      `uvd audit --targets none` (build_report)
  jsonl      `uvd export --format lvm-jsonl`
  megatron   `uvd export --format megatron`
  one        open_dataset + one sequence's tokens by (sequence id, unit)
  summary    the end-of-run summary of a run that built every unit (roll-ups from scratch,
             dataset.json, palette.json, the seal)

Fabrication skips fsync (it is not what is measured). With --s3, each fabricated output is also
copied to a loopback S3 server (moto's standalone server, started here) and the commands run on
its s3:// URL through the project's fsspec/s3fs store; the requests each command made are counted
from the server's access log (HTTP level: GET, HEAD, PUT, LIST, ...). With --cold (local disk), the
output's files are dropped from the page cache before each command (posix_fadvise DONTNEED, this
output's files only), so every size reads them from disk: without it a 10^4-unit output stays in
the page cache between commands while a 10^5-unit one can be partly evicted (where the kernel
reclaims pages unused for a minute, as DAMON does on the project's VMs), which favours the smaller
size.
Usage:
  python bench/metadata_scale.py --units 1000 10000 [--root /tmp/uvd-meta] [--only verify,digest] [--s3 | --cold]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine  # noqa: E402
from _s3 import LoopbackS3, kinds  # noqa: E402

HERE = Path(__file__).resolve()
BUCKET = "uvd-meta"
COMMANDS = ["baseline", "plan", "verify", "digest", "audit", "jsonl", "megatron", "one", "summary"]
RECIPE = {"name": "meta", "tokenizer": {"preset": "tiny"},
          "sources": [{"name": "src", "plugin": "image_folder", "params": {"path": "/nonexistent", "unit_size": 2},
                       "category": "unlabelled_images"}]}


def fabricate(out: Path, n: int) -> float:
    from uvd_pipeline.manifests import store as store_mod
    from uvd_pipeline.manifests.store import OutputStore
    from uvd_pipeline.manifests.writer import commit_unit, prepare_output
    from uvd_pipeline.types import Reject, TokenSequence, WorkUnit

    import yaml

    store_mod._fsync = lambda f: None  # fabrication only; commits are otherwise the writer's own
    store = OutputStore(str(out))
    prepare_output(store)
    store.write_text("recipe.resolved.yaml", yaml.safe_dump({"fingerprint": "f" * 16, "tokenizer_sha256": None,
                                                             "recipe": RECIPE}, sort_keys=False))
    rng = np.random.default_rng(0)
    write_inventory(store, n)
    t = time.perf_counter()
    for i in range(n):
        uid = f"src-{i:06d}"
        seqs = [TokenSequence(id=f"{i:08x}{k}" + "0" * 23, index=k, task="image", image_ids=[f"{i:08x}{k}" + "1" * 23],
                              records=[f"in/{i:06d}/{k}.jpg"], provenance={}, split="test" if i % 50 == 0 else "train",
                              tokens=rng.integers(0, 8192, 256).astype(np.uint16)) for k in range(2)]
        commit_unit(store, WorkUnit(uid, "src", i, {}), seqs, [Reject(f"in/{i:06d}/bad.jpg", "corrupt_image", "x", "src", uid)],
                    category="unlabelled_images", recipe_fingerprint="f" * 16, records_read=3, records_used=2)
        if i and i % 10000 == 0:
            print(f"  fabricated {i} units", file=sys.stderr, flush=True)
    fab = time.perf_counter() - t
    _summary(str(out), n)
    return fab


def planned_units(n: int) -> list:
    from uvd_pipeline.types import WorkUnit

    return [WorkUnit(f"src-{i:06d}", "src", i, {}) for i in range(n)]


def write_inventory(store, n: int) -> None:
    """inventory.json as a first run pins it (engines/identity.py), for the resume planning."""
    from uvd_pipeline.engines.identity import INVENTORY_FILE, _inventory_text, unit_inventory

    store.write_text(INVENTORY_FILE, _inventory_text(unit_inventory(planned_units(n))))


def _summary(out: str, n: int) -> None:
    from uvd_pipeline.engines.base import write_dataset_summary
    from uvd_pipeline.manifests.store import OutputStore
    from uvd_pipeline.recipe import parse_recipe

    from uvd_pipeline.engines.environment import decoding_versions

    resolved = {"fingerprint": "f" * 16, "tokenizer_sha256": None, "environment": decoding_versions()}
    write_dataset_summary(OutputStore(out), parse_recipe(RECIPE), resolved, planned=n)


def count_store_ops() -> dict[str, int]:
    from uvd_pipeline.manifests.store import OutputStore

    # `list` reads through `names`: counting `names` counts every listing once
    ops = {"read": 0, "list": 0, "exists": 0, "write": 0, "local_open": 0}
    for meth, key in (("read_bytes", "read"), ("names", "list"), ("exists", "exists"), ("write_bytes", "write"),
                      ("open_write", "write"), ("local_path", "local_open")):
        orig = getattr(OutputStore, meth)

        def wrapped(self, *a, _orig=orig, _key=key, **kw):
            ops[_key] += 1
            return _orig(self, *a, **kw)

        setattr(OutputStore, meth, wrapped)
    return ops


IMPORTS = {"plan": ["uvd_pipeline.engines.identity"], "audit": ["uvd_pipeline.audit.report", "uvd_pipeline.audit.leaks",
                                                                 "uvd_pipeline.audit.curation", "uvd_pipeline.exports.previews"],
           "jsonl": ["uvd_pipeline.exports"], "megatron": ["uvd_pipeline.exports"],
           "summary": ["uvd_pipeline.engines.base", "uvd_pipeline.recipe", "uvd_pipeline.renderers.palette"]}


def child(cmd: str, out: str, n: int) -> None:
    from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset

    import importlib

    for module in IMPORTS.get(cmd, ()):  # imported before the clock starts: import time does not grow with N
        importlib.import_module(module)
    units = planned_units(n) if cmd == "plan" else []  # what plan_units gives the run (not timed: the recipe's part)
    ops = count_store_ops()
    scratch = tempfile.mkdtemp(prefix="uvd-meta-export-")
    t, cpu = time.perf_counter(), time.process_time()
    if cmd == "plan":  # what run_recipe does between planning the units and building the pending ones
        from uvd_pipeline.engines.identity import check_resume, pending_units
        from uvd_pipeline.manifests.store import OutputStore

        store = OutputStore(out)
        check_resume(store, {"fingerprint": "f" * 16, "tokenizer_sha256": None}, units)
        assert pending_units(store, units) == []
    elif cmd == "verify":
        problems = verify_dataset(out)
        assert problems == [], problems[:3]
    elif cmd == "digest":
        dataset_digest(open_dataset(out))
    elif cmd == "audit":
        from uvd_pipeline.audit.report import build_report

        build_report(out, targets="none")
    elif cmd in ("jsonl", "megatron"):
        from uvd_pipeline.exports import export_lvm_jsonl, export_megatron

        if cmd == "jsonl":
            export_lvm_jsonl(out, f"{scratch}/x.jsonl")
        else:
            export_megatron(out, f"{scratch}/x")
    elif cmd == "one":
        unit = f"src-{n // 2:06d}"
        tokens = open_dataset(out).tokens(f"{n // 2:08x}1" + "0" * 23, unit)
        assert tokens.size == 256
    elif cmd == "summary":  # as at the end of a run that built every unit (the parent removed the roll-ups)
        _summary(out, n)
    seconds, cpu_s = time.perf_counter() - t, time.process_time() - cpu
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"seconds": seconds, "cpu_s": cpu_s, "peak_mb": peak_rss_mb(),
                      "ops": ops}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since its exec (VmHWM; ru_maxrss would also count the
    parent's memory before the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "uvd-meta"))
    ap.add_argument("--only", default=",".join(COMMANDS))
    ap.add_argument("--s3", action="store_true", help="also copy each output to a loopback S3 server (moto) "
                    "and run the commands there, counting its requests")
    ap.add_argument("--cold", action="store_true", help="drop the output's files from the page cache "
                    "before each command (local disk)")
    ap.add_argument("--child", nargs=3, metavar=("CMD", "OUT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    only = args.only.split(",")
    Path(args.root).mkdir(parents=True, exist_ok=True)
    s3 = LoopbackS3(Path(args.root) / "moto.log") if args.s3 else None
    try:
        results = [measure(Path(args.root) / f"n{n}", n, only, s3, args.cold) for n in args.units]
    finally:
        if s3 is not None:
            s3.stop()
    print(json.dumps({"bench": "metadata_scale", "storage": "loopback S3 (moto server)" if s3 else "local disk",
                      "results": results, "machine": machine(), "load": load_average(),
                      "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}, indent=1))


def evict(out: Path) -> None:
    """Drop the output's files from the page cache (clean pages; this output's files only)."""
    for folder, _, names in os.walk(out):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def measure(out: Path, n: int, only: list[str], s3: LoopbackS3 | None, cold: bool = False) -> dict:
    from uvd_pipeline.manifests.store import OutputStore

    row: dict = {"units": n, "page_cache": "dropped before each command" if cold and s3 is None else "as left"}
    if not (out / "integrity.json").exists():
        print(f"fabricating {n} units in {out}", file=sys.stderr, flush=True)
        row["fabricate_s"] = round(fabricate(out, n), 1)
    if not (out / "inventory.json").exists():  # outputs fabricated before the bench pinned one: pin it, seal again
        from uvd_pipeline.manifests.reader import Dataset
        from uvd_pipeline.manifests.seal import write_seal

        write_inventory(OutputStore(str(out)), n)
        ds = Dataset(str(out))
        for _ in ds.iter_entries():
            pass
        write_seal(ds.store, ds.ledger_sha256)
    row["ledger_bytes_per_entry"] = round(sum(p.stat().st_size for p in (out / "ledger").iterdir()) / n)
    url = str(out)
    if s3 is not None:
        import s3fs

        fs = s3fs.S3FileSystem()
        if not fs.exists(BUCKET):
            fs.mkdir(BUCKET)
        t = time.perf_counter()
        fs.put(f"{out}/", f"{BUCKET}/{out.name}/", recursive=True)
        row["upload_s"] = round(time.perf_counter() - t, 1)
        url = f"s3://{BUCKET}/{out.name}"
    for cmd in [c for c in COMMANDS if c in only]:
        if cmd == "summary":  # the roll-ups are rebuilt from scratch, as at the end of a run
            store = OutputStore(url)
            if store.exists("rollup"):
                store.fs.rm(store.path("rollup"), recursive=True)
        before = len(s3.requests()) if s3 is not None else 0
        if cold and s3 is None:
            evict(out)
        proc = subprocess.run([sys.executable, str(HERE), "--child", cmd, url, str(n)], capture_output=True, text=True)
        if proc.returncode:
            row[cmd] = {"error": proc.stderr.strip().splitlines()[-3:]}
            print(f"  {n} units {cmd}: FAILED {row[cmd]['error']}", file=sys.stderr, flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["ops_per_unit"] = round(sum(r["ops"].values()) / n, 2)
        r["ms_per_unit"] = round(1000 * r["seconds"] / n, 3)
        note = f"{r['ops_per_unit']} ops/unit"
        if s3 is not None:
            r["requests"] = kinds(s3.requests()[before:])
            r["requests_per_unit"] = round(sum(r["requests"].values()) / n, 3)
            note += f", {r['requests_per_unit']} requests/unit {r['requests']}"
        row[cmd] = r
        print(f"  {n} units {cmd}: {r['seconds']:.1f} s ({r['cpu_s']:.1f} s CPU), {r['peak_mb']:.0f} MB, {note}", file=sys.stderr, flush=True)
    return row


if __name__ == "__main__":
    main()
