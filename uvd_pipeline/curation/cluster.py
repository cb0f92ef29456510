"""The global cluster pass of curation: committed signature tables in, per-unit decision tables out.

    cluster_pass(store, refs, threshold, runner) -> ClusterResult

Stages (each a list of small tasks run by `runner.map(fn, args_list)`, each task reading and
writing Arrow IPC files under `<scratch>/<fingerprint>/` of the store, never holding more than a
partition):

1. emit (a task per group of signature tables): nodes to node partitions; band rows (pigeonhole
   tables of the 64-bit pHash, see bands.py) and exact rows (image ids) to band partitions;
2. edges (a task per band partition): candidate pairs inside buckets, confirmed by Hamming
   distance <= threshold (or the same image ids), to the node partitions of their ends;
3. rounds (a task per node partition, until a round sends nothing): min-label propagation of
   keep keys, so every node ends labelled with its cluster's keeper (components.py);
4. members, keepers, write: the decision rows of every training record that loses, one table per
   unit at `<scratch>/<fingerprint>/by_unit/<unit>.arrow` (decisions.py).

Nodes are records. An image record has one row (position 0); a video record up to three (frame
slots 0..2). Two records are exact duplicates when they have the same positions with the same
image id at each, and near duplicates when they have the same positions and the hashes at every
position are within the threshold. Records with different position sets never match.

Keep rule (content only): in each connected component keep the smallest (rank, image_id, unit,
record), where image_id is the record's id at its first position; an eval keeper makes every
training member `eval_contamination`, otherwise a member is `duplicate` (the keeper's image ids)
or `near_duplicate`. Candidates have complete recall for distances 0..threshold, and the result
depends neither on partition counts nor on the engine or its workers.

Resume: every task writes whole files and then a done marker, and skips itself when the marker
exists; the scratch folder is named by a fingerprint of the inputs and settings, so a rerun after
a kill -9 continues where it stopped and gives the same decisions.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from ..errors import UvdError
from ..manifests.store import OutputStore
from .bands import MAX_THRESHOLD, BandLayout, choose_m
from .components import round_task
from .decisions import keepers_task, members_task, write_task
from .edges import edges_task
from .emit import emit_task
from .exchange import Scratch
from .views import WINDOWS

VERSION = 1
SCRATCH = "curation/exchange"
NODES_PER_PARTITION = 500_000  # node rows a components/decisions task holds
BAND_ROWS_PER_PARTITION = 4_000_000  # band rows a bucket task holds
BAND_ROWS_PER_GROUP = 8_000_000  # band rows an emit task holds at once (its tables in one group)
RECORDS_PER_EMIT_TASK = 1_000_000  # hash rows (records x hashes_per_row) an emit task holds
HASHES_PER_ROW = 1 + WINDOWS  # an image's full hash and its window hashes (curation/views.py)
BUCKET_CAP = 2048
BYTES_PER_SIGNATURE_ROW = 48  # to estimate rows from file sizes when refs give no count


class TaskRunner(Protocol):
    def map(self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class InProcessRunner:
    """The runner used when none is given: every task in this process, one after another."""

    def map(self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
        return [fn(*args) for args in args_list]


@dataclass(frozen=True)
class SignatureRef:
    """A committed signature table: `path` is relative to the store; `rank` orders sources in
    the keep rule (0 = eval sets, then the recipe's priority, then recipe order); `rows` (optional)
    sizes the partitions, else it is estimated from the file size."""

    unit: str
    source: str
    rank: int
    is_eval: bool
    path: str
    rows: int | None = None


@dataclass
class ClusterResult:
    paths: dict[str, str]  # training unit -> its decision table (store-relative), units that lose
    stats: dict[str, Any] = field(default_factory=dict)
    scratch: str = ""


def as_refs(refs: Iterable[SignatureRef | Mapping[str, Any]]) -> list[SignatureRef]:
    out = []
    for ref in refs:
        if isinstance(ref, Mapping):
            ref = SignatureRef(**{k: ref[k] for k in ("unit", "source", "rank", "is_eval", "path")}, rows=ref.get("rows"))
        if not ref.unit or "/" in ref.unit or ref.unit.startswith("."):
            raise UvdError(f"signature ref {ref.path}: unit {ref.unit!r} cannot name a file")
        out.append(ref)
    out.sort(key=lambda r: r.unit)
    for a, b in zip(out, out[1:]):
        if a.unit == b.unit:
            raise UvdError(f"signature refs: unit {a.unit!r} is listed twice ({a.path}, {b.path})")
    return out


def plan_pass(store: OutputStore, refs: list[SignatureRef], threshold: int, m: int | None = None,
              cap: int = BUCKET_CAP, nodes_per_partition: int = NODES_PER_PARTITION,
              band_rows_per_partition: int = BAND_ROWS_PER_PARTITION,
              hashes_per_row: int = HASHES_PER_ROW) -> dict[str, Any]:
    """Partition counts and task groups, from the row counts only (never from the engine).
    `hashes_per_row`: band rows an image row gives per table (its full and window hashes)."""
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise UvdError(f"curation threshold {threshold}: must be within 0..{MAX_THRESHOLD}")
    rows = [r.rows if r.rows is not None else _estimate_rows(store, r.path) for r in refs]
    total = max(1, sum(rows))
    hashes = total * max(1, hashes_per_row)
    per_task = max(1, RECORDS_PER_EMIT_TASK // max(1, hashes_per_row))
    layout = BandLayout(threshold, m or choose_m(hashes, threshold))
    n_tables = len(layout.tables)
    per_group = max(1, min(n_tables, BAND_ROWS_PER_GROUP // max(1, min(total, per_task) * max(1, hashes_per_row))))
    groups = [[a, min(a + per_group, n_tables)] for a in range(0, n_tables, per_group)]
    hash_parts = max(1, math.ceil(hashes * per_group / band_rows_per_partition))
    unit_groups: list[list[int]] = [[]]
    filled = 0
    for i, n in enumerate(rows):
        if unit_groups[-1] and filled + n > per_task:
            unit_groups.append([])
            filled = 0
        unit_groups[-1].append(i)
        filled += n
    node_parts = max(1, math.ceil(total / nodes_per_partition))
    return {
        "version": VERSION, "threshold": threshold, "m": layout.m, "tables": n_tables, "cap": cap,
        "groups": groups, "hash_parts": hash_parts, "band_parts": len(groups) * hash_parts,
        "node_parts": node_parts, "write_parts": max(1, math.ceil(len(refs) / 256)),
        "unit_groups": unit_groups, "rows": total, "hashes_per_row": hashes_per_row,
    }


def _estimate_rows(store: OutputStore, path: str) -> int:
    return max(1, math.ceil(store.fs.size(store.path(path)) / BYTES_PER_SIGNATURE_ROW))


def cluster_pass(
    store: OutputStore,
    refs: Iterable[SignatureRef | Mapping[str, Any]],
    threshold: int,
    runner: TaskRunner | None = None,
    *,
    scratch: str = SCRATCH,
    m: int | None = None,
    cap: int = BUCKET_CAP,
    nodes_per_partition: int = NODES_PER_PARTITION,
    band_rows_per_partition: int = BAND_ROWS_PER_PARTITION,
    hashes_per_row: int = HASHES_PER_ROW,
    keep_scratch: bool = False,
    on_stage: Callable[[str, int], None] | None = None,
) -> ClusterResult:
    """Cluster every signature table's records and decide, per training unit, which records are
    dropped and why. Returns the decision tables' paths (store-relative; only units that lose at
    least one record) and the pass's figures: pairs compared, edges, clusters, cluster-size
    histogram, rounds, largest bucket, bytes exchanged.

    `runner` runs each stage's tasks (engines/tasks.py: local, Ray, Beam); `m` overrides the
    band layout's choice (it changes the work, never the result); `on_stage(name, tasks)` is
    called as each stage starts (progress). Intermediate files are removed at the end unless
    `keep_scratch`; the decision tables and `result.json` stay until the caller commits them."""
    runner = runner or InProcessRunner()
    refs = as_refs(refs)
    plan = plan_pass(store, refs, threshold, m, cap, nodes_per_partition, band_rows_per_partition, hashes_per_row)
    fingerprint = hashlib.sha256(json.dumps(
        {"plan": plan, "refs": [asdict(r) | {"rows": None} for r in refs]}, sort_keys=True
    ).encode()).hexdigest()[:16]
    root = f"{scratch.rstrip('/')}/{fingerprint}"
    sc = Scratch(store, root)
    if store.exists(sc.rel("result.json")):
        saved = json.loads(store.read_text(sc.rel("result.json")))
        return ClusterResult(saved["paths"], saved["stats"], root)
    if not store.exists(sc.rel("plan.json")):
        sc.write_table(sc.rel("units.arrow"), pa.table({
            "unit": [r.unit for r in refs], "source": [r.source for r in refs],
            "rank": pa.array([r.rank for r in refs], pa.int32()), "is_eval": [bool(r.is_eval) for r in refs],
            "path": [r.path for r in refs],
        }))
        sc.write_bytes(sc.rel("plan.json"), json.dumps(plan, sort_keys=True).encode())

    def stage(name: str, fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        if on_stage:
            on_stage(name, len(args))
        return runner.map(fn, args)

    url = store.url
    emitted = stage("emit", emit_task, [(url, root, i) for i in range(len(plan["unit_groups"]))])
    found = stage("edges", edges_task, [(url, root, b) for b in range(plan["band_parts"])])
    rounds: list[list[dict[str, Any]]] = []
    while True:
        r = len(rounds)
        rounds.append(stage(f"round {r}", round_task, [(url, root, q, r) for q in range(plan["node_parts"])]))
        if sum(x["messages"] for x in rounds[-1]) == 0:
            break
    members = stage("members", members_task, [(url, root, q, len(rounds) - 1) for q in range(plan["node_parts"])])
    kept = stage("keepers", keepers_task, [(url, root, q) for q in range(plan["node_parts"])])
    written = stage("write", write_task, [(url, root, d) for d in range(plan["write_parts"])])
    units = {r.unit: r for r in refs}
    paths = {p.rsplit("/", 1)[-1][: -len(".arrow")]: p for w in written for p in w["paths"]}
    assert not any(units[u].is_eval for u in paths), "an eval unit got decisions"
    stats = _stats(plan, emitted, found, rounds, members, kept, written)
    store.write_text(sc.rel("result.json"), json.dumps({"paths": paths, "stats": stats}, sort_keys=True))
    if not keep_scratch:
        for folder in ("emit", "nodes", "bands", "edges", "adjacency", "labels", "msgs", "members", "keepers", "decided"):
            if store.exists(sc.rel(folder)):
                store.fs.rm(store.path(sc.rel(folder)), recursive=True)
    return ClusterResult(dict(sorted(paths.items())), stats, root)


def _stats(plan: dict[str, Any], emitted: list[dict[str, Any]], found: list[dict[str, Any]],
           rounds: list[list[dict[str, Any]]], members: list[dict[str, Any]], kept: list[dict[str, Any]],
           written: list[dict[str, Any]]) -> dict[str, Any]:
    sizes: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for k in kept:
        for b, n in k["sizes"].items():
            sizes[b] = sizes.get(b, 0) + n
        for reason, n in k["dropped"].items():
            dropped[reason] = dropped.get(reason, 0) + n
    every = [*emitted, *found, *(x for r in rounds for x in r), *members, *kept, *written]
    return {
        "records": sum(e["nodes"] for e in emitted),
        "band_rows": sum(e["band_rows"] for e in emitted),
        "m": plan["m"], "tables": plan["tables"],
        "partitions": {"band": plan["band_parts"], "node": plan["node_parts"]},
        "pairs_compared": sum(f["pairs_compared"] for f in found),
        "identical_edges": sum(f["identical_edges"] for f in found),
        "largest_bucket": max((f["largest_bucket"] for f in found), default=0),
        "capped_buckets": sum(f["capped_buckets"] for f in found),
        "capped_pairs": sum(f["capped_pairs"] for f in found),
        "edges": sum(x["directed_edges"] for x in rounds[0]) // 2,
        "clustered_records": sum(x["vertices"] for x in rounds[0]),
        "rounds": len(rounds),
        "clusters": sum(k["clusters"] for k in kept),
        "cluster_sizes": dict(sorted(sizes.items(), key=lambda kv: int(kv[0].split("-")[0]))),
        "dropped": dropped,
        "bytes_exchanged": sum(int(x.get("bytes_written", 0)) for x in every),
    }
