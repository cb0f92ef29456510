"""Benchmark: metadata commands as the number of committed units grows (issue 17.2).

Fabricates N committed units through the writer's own `commit_unit` (a token shard, a zstd Arrow
manifest, a rejects file and the ledger entry, as a run commits them; 2 single-image sequences and
1 reject per unit, so the data is tiny and what grows is the number of units), then the end-of-run
summary (roll-ups, dataset.json, palette.json, the seal) as `uvd run` writes it. Then each command
runs in a fresh child process, one after the other, and reports its wall time, its peak memory
(the child's VmHWM: the interpreter and imports included; `baseline` is a child that only
imports), and the storage operations it made (OutputStore reads, lists, existence checks,
writes, and local files opened directly: on an object store each is at least one request):

  plan       which units are done (the ledger listing `uvd run` makes before building)
  verify     `uvd verify` (verify_dataset)
  digest     `uvd digest`
  audit      `uvd audit --targets none` (build_report)
  jsonl      `uvd export --format lvm-jsonl`
  megatron   `uvd export --format megatron`
  one        open_dataset + one sequence's tokens by (sequence id, unit)
  summary    the end-of-run summary of a run that built every unit (roll-ups from scratch,
             dataset.json, palette.json, the seal)

Fabrication skips fsync (it is not what is measured). Usage:
  python bench/metadata_scale.py --units 1000 10000 [--root /tmp/uvd-meta] [--only verify,digest]
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

HERE = Path(__file__).resolve()
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
    _summary(out, n)
    return fab


def _summary(out: Path, n: int) -> None:
    from uvd_pipeline.engines.base import write_dataset_summary
    from uvd_pipeline.manifests.store import OutputStore
    from uvd_pipeline.recipe import parse_recipe

    from uvd_pipeline.engines.environment import decoding_versions

    resolved = {"fingerprint": "f" * 16, "tokenizer_sha256": None, "environment": decoding_versions()}
    write_dataset_summary(OutputStore(str(out)), parse_recipe(RECIPE), resolved, planned=n)


def count_store_ops() -> dict[str, int]:
    from uvd_pipeline.manifests.store import OutputStore

    ops = {"read": 0, "list": 0, "exists": 0, "write": 0, "local_open": 0}
    for meth, key in (("read_bytes", "read"), ("list", "list"), ("exists", "exists"), ("write_bytes", "write"),
                      ("open_write", "write"), ("local_path", "local_open")):
        orig = getattr(OutputStore, meth)

        def wrapped(self, *a, _orig=orig, _key=key, **kw):
            ops[_key] += 1
            return _orig(self, *a, **kw)

        setattr(OutputStore, meth, wrapped)
    return ops


def child(cmd: str, out: str, n: int) -> None:
    from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset

    ops = count_store_ops()
    scratch = tempfile.mkdtemp(prefix="uvd-meta-export-")
    t = time.perf_counter()
    if cmd == "plan":
        from uvd_pipeline.manifests.reader import Dataset

        done = {name.removesuffix(".json") for name in Dataset(out).store.list("ledger", ".json")}
        assert len(done) == n
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
    elif cmd == "summary":  # as at the end of a run that built every unit: the roll-ups from scratch
        import shutil

        shutil.rmtree(Path(out) / "rollup", ignore_errors=True)
        _summary(Path(out), n)
    seconds = time.perf_counter() - t
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(),
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
    ap.add_argument("--child", nargs=3, metavar=("CMD", "OUT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    only = args.only.split(",")
    results = []
    for n in args.units:
        out = Path(args.root) / f"n{n}"
        row: dict = {"units": n}
        if not (out / "integrity.json").exists():
            print(f"fabricating {n} units in {out}", file=sys.stderr, flush=True)
            row["fabricate_s"] = round(fabricate(out, n), 1)
        row["ledger_bytes_per_entry"] = round(sum(p.stat().st_size for p in (out / "ledger").iterdir()) / n)
        for cmd in [c for c in COMMANDS if c in only]:
            proc = subprocess.run([sys.executable, str(HERE), "--child", cmd, str(out), str(n)],
                                  capture_output=True, text=True)
            if proc.returncode:
                row[cmd] = {"error": proc.stderr.strip().splitlines()[-1:]}
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["ops_per_unit"] = round(sum(r["ops"].values()) / n, 2)
            r["ms_per_unit"] = round(1000 * r["seconds"] / n, 3)
            row[cmd] = r
            print(f"  {n} units {cmd}: {r['seconds']:.1f} s, {r['peak_mb']:.0f} MB, {r['ops_per_unit']} ops/unit",
                  file=sys.stderr, flush=True)
        results.append(row)
    print(json.dumps({"bench": "metadata_scale", "results": results, "machine": machine(), "load": load_average(),
                      "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}, indent=1))


if __name__ == "__main__":
    main()
