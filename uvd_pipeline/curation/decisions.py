"""From final labels to per-unit decision tables, in three stages of tasks:

1. members: each node partition sends its labelled nodes (with their hashes and ids) to the
   partition of their keeper (the label's node);
2. keepers: each partition counts its clusters' members, joins the keeper's own row, and decides
   every other training member: `eval_contamination` when the keeper is an eval record,
   `duplicate` when the member has the keeper's image id(s), else `near_duplicate`; the distance
   is the largest Hamming distance to the keeper over the positions (it may exceed the threshold
   when the cluster is a chain);
3. write: decision rows, routed by unit, become one table per unit that loses a record.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from ..manifests.store import OutputStore
from .bands import popcount
from .components import read_labels
from .emit import node_table
from .exchange import U64, Scratch, load_plan, load_units, partition_of, run_once
from .nodes import MAX_POSITIONS, id_strings

DECISION_SCHEMA = pa.schema([
    ("record", pa.string()), ("image_id", pa.string()), ("reason", pa.string()),
    ("twin_unit", pa.string()), ("twin_record", pa.string()), ("twin_image_id", pa.string()),
    ("twin_source", pa.string()), ("distance", pa.int16()), ("cluster_size", pa.int64()),
])
REASONS = ("duplicate", "near_duplicate", "eval_contamination")
SLOT_COLUMNS = [f"{p}{s}" for s in range(MAX_POSITIONS) for p in ("h", "ih", "il")]


def size_bin(size: int) -> str:
    if size <= 8:
        return str(size)
    k = math.ceil(math.log2(size))
    return f"{2 ** (k - 1) + 1}-{2 ** k}"


def members_task(url: str, root: str, part: int, final_round: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    return run_once(scratch, scratch.rel("members", f"task-{part:05d}"), lambda: _members(scratch, part, final_round))


def _members(scratch: Scratch, part: int, final_round: int) -> dict[str, Any]:
    plan = load_plan(scratch)
    vertices, label = read_labels(scratch, final_round, part)
    if not len(vertices):
        return {"members": 0}
    nodes = node_table(scratch.read_folder(scratch.rel("nodes", f"p-{part:05d}")))
    rows = pa.array(np.searchsorted(nodes.column("node").to_numpy(), vertices))
    columns = {name: nodes.column(name).take(rows) for name in ["node", "is_eval", "mask", "kh", "kl", *SLOT_COLUMNS, "record"]}
    columns["lnode"] = pa.array(label[3])
    where = partition_of(label[3], plan["node_parts"])
    scratch.write_partitioned(scratch.rel("members"), f"from-{part:05d}", where, plan["node_parts"], columns, compress=True)
    return {"members": int(len(vertices))}


def keepers_task(url: str, root: str, part: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    return run_once(scratch, scratch.rel("keepers", f"task-{part:05d}"), lambda: _keepers(scratch, part))


def _keepers(scratch: Scratch, part: int) -> dict[str, Any]:
    plan = load_plan(scratch)
    tables = scratch.read_folder(scratch.rel("members", f"p-{part:05d}"))
    if not tables:
        return {"clusters": 0, "sizes": {}, "dropped": {}}
    members = pa.concat_tables(tables)
    col = {name: members.column(name).to_numpy() for name in members.column_names if name != "record"}
    lnode = col["lnode"]
    keepers, inverse, counts = np.unique(lnode, return_inverse=True, return_counts=True)
    nodes = node_table(scratch.read_folder(scratch.rel("nodes", f"p-{part:05d}")))
    krows = np.searchsorted(nodes.column("node").to_numpy(), lnode)
    keeper = {name: nodes.column(name).to_numpy()[krows] for name in ["is_eval", "mask", "kh", "kl", *SLOT_COLUMNS]}
    dropped = (col["node"] != lnode) & ~col["is_eval"]
    same = (col["mask"] == keeper["mask"]) & (col["kh"] == keeper["kh"]) & (col["kl"] == keeper["kl"])
    for name in SLOT_COLUMNS:
        if not name.startswith("h"):
            same &= col[name] == keeper[name]
    distance = np.zeros(len(lnode), dtype=np.int16)
    for s in range(MAX_POSITIONS):
        distance = np.maximum(distance, popcount(col[f"h{s}"] ^ keeper[f"h{s}"]).astype(np.int16))
    reason = np.where(keeper["is_eval"], 2, np.where(same, 0, 1))
    sizes: dict[str, int] = {}
    for size, n in zip(*np.unique(counts, return_counts=True)):
        sizes[size_bin(int(size))] = sizes.get(size_bin(int(size)), 0) + int(n)
    idx = np.flatnonzero(dropped)
    units = load_units(scratch)
    unit_index = (col["node"][idx] >> U64(32)).astype(np.int64)
    twin_unit = (lnode[idx] >> U64(32)).astype(np.int64)
    twin_record = nodes.column("record").take(pa.array(krows[idx]))
    columns = {
        "unit_index": unit_index,
        "record": members.column("record").take(pa.array(idx)),
        "image_id": id_strings(col["kh"][idx], col["kl"][idx]),
        "reason": pa.array([REASONS[r] for r in reason[idx].tolist()], type=pa.string()),
        "twin_unit": units.column("unit").take(pa.array(twin_unit)),
        "twin_record": twin_record,
        "twin_image_id": id_strings(keeper["kh"][idx], keeper["kl"][idx]),
        "twin_source": units.column("source").take(pa.array(twin_unit)),
        "distance": distance[idx],
        "cluster_size": counts[inverse][idx].astype(np.int64),
    }
    where = partition_of(unit_index.astype(U64), plan["write_parts"])
    scratch.write_partitioned(scratch.rel("decided"), f"from-{part:05d}", where, plan["write_parts"], columns, compress=True)
    by_reason = np.bincount(reason[idx], minlength=3)
    return {"clusters": int(len(keepers)), "sizes": sizes, "dropped": {r: int(n) for r, n in zip(REASONS, by_reason)}}


def write_task(url: str, root: str, part: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    return run_once(scratch, scratch.rel("by_unit", f"task-{part:05d}"), lambda: _write(scratch, part))


def _write(scratch: Scratch, part: int) -> dict[str, Any]:
    tables = scratch.read_folder(scratch.rel("decided", f"p-{part:05d}"))
    if not tables:
        return {"paths": []}
    table = pa.concat_tables(tables).sort_by([("unit_index", "ascending"), ("record", "ascending")])
    units = load_units(scratch).column("unit").to_pylist()
    unit_index = table.column("unit_index").to_numpy()
    bounds = np.flatnonzero(np.r_[True, unit_index[1:] != unit_index[:-1], True])
    paths = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        piece = table.slice(int(a), int(b - a)).select(DECISION_SCHEMA.names).cast(DECISION_SCHEMA)
        path = scratch.rel("by_unit", f"{units[int(unit_index[a])]}.arrow")
        scratch.write_table(path, piece)
        paths.append(path)
    return {"paths": paths}
