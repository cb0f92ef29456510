"""Map stage of the cluster pass: one task reads a group of signature tables and writes
- its nodes to node partitions (by a hash of the node id): the keep keys and record names the
  components and the decisions need later;
- its band rows to band partitions: for each table of the band layout, (node, table, mask,
  permuted hash) routed by a hash of (table, key), so every bucket lands whole in one partition;
  video records carry their hash at every slot (`x0..x2`) so a bucket can compare all of them;
  an image record gives a row for its full hash and one for each distinct window hash
  (curation/views.py), all carrying its tint;
- its exact rows (node, mask, image ids) routed by the image id, so same-id records meet.
Band rows are produced a group of tables at a time, which bounds the task's memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..manifests.store import OutputStore
from .bands import BandLayout
from .exchange import U64, Scratch, load_plan, load_units, mix64, partition_of, run_once
from .nodes import MAX_POSITIONS, concat_nodes, is_multi, read_arrow, signature_nodes

EXACT_SALT = U64(0x9E3779B97F4A7C15)
NODE_COLUMNS = ["node", "rank", "is_eval", "mask", "kh", "kl"] + [
    f"{p}{s}" for s in range(MAX_POSITIONS) for p in ("h", "ih", "il")
] + ["record"]


def emit_task(url: str, root: str, task: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    return run_once(scratch, scratch.rel("emit", f"task-{task:05d}"), lambda: _emit(scratch, task))


def _emit(scratch: Scratch, task: int) -> dict[str, Any]:
    plan = load_plan(scratch)
    units = load_units(scratch).to_pylist()
    parts = []
    for index in plan["unit_groups"][task]:
        unit = units[index]
        table = read_arrow(scratch.store, unit["path"])
        parts.append(signature_nodes(table, unit["path"], index, unit["rank"], unit["is_eval"]))
    nodes = concat_nodes(parts)
    if not nodes or not len(nodes["node"]):
        return {"nodes": 0, "band_rows": 0}
    name = f"from-{task:05d}"
    scratch.write_partitioned(
        scratch.rel("nodes"), name, partition_of(nodes["node"], plan["node_parts"]), plan["node_parts"],
        {k: nodes[k] for k in NODE_COLUMNS}, compress=True,
    )
    band_rows = _emit_bands(scratch, plan, nodes, name)
    _emit_exact(scratch, plan, nodes, name)
    return {"nodes": int(len(nodes["node"])), "band_rows": band_rows}


def band_partition(keys: np.ndarray, table: int, group: int, hash_parts: int) -> np.ndarray:
    return group * hash_parts + partition_of(keys ^ mix64(np.array([table], dtype=U64))[0], hash_parts)


def _emit_bands(scratch: Scratch, plan: dict[str, Any], nodes: dict[str, Any], name: str) -> int:
    layout = BandLayout(plan["threshold"], plan["m"])
    multi = is_multi(nodes["mask"])
    total = 0
    for kind, rows in (("near", ~multi), ("multi", multi)):
        idx = np.flatnonzero(rows)
        if not idx.size:
            continue
        if kind == "multi":
            node, mask, hmin = nodes["node"][idx], nodes["mask"][idx], nodes["hmin"][idx]
            extra = {f"x{s}": nodes[f"h{s}"][idx] for s in range(MAX_POSITIONS)}
        else:
            node, mask, hmin, tint = view_rows(nodes, idx)
            extra = {"tint": tint} if tint.any() else {}
        for group, (first, end) in enumerate(plan["groups"]):
            k, size = end - first, len(node)
            columns = {"node": np.tile(node, k), "tab": np.repeat(np.arange(first, end, dtype=np.uint16), size)}
            if (mask != 1).any():  # left out when every row is a single image at position 0
                columns["mask"] = np.tile(mask, k)
            columns["h"] = np.empty(k * size, dtype=U64)
            where = np.empty(k * size, dtype=np.int64)
            for i, table in enumerate(range(first, end)):
                permuted = layout.permuted(hmin, table)
                columns["h"][i * size : (i + 1) * size] = permuted
                where[i * size : (i + 1) * size] = band_partition(layout.keys(permuted, table), table, group, plan["hash_parts"])
            columns.update({col: np.tile(v, k) for col, v in extra.items()})
            scratch.write_partitioned(scratch.rel("bands"), f"{kind}-{name}", where, plan["band_parts"], columns)
            total += len(columns["node"])
    return total


def view_rows(nodes: dict[str, Any], idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """(node, mask, hash, tint) per distinct (node, hash) among the full and window hashes of
    the nodes at idx, ordered by node then hash."""
    views = nodes["views"][idx]
    width = 1 + views.shape[1]
    node = np.repeat(nodes["node"][idx], width)
    hashes = np.concatenate([nodes["hmin"][idx][:, None], views], axis=1).reshape(-1)
    order = np.lexsort((hashes, node))
    node, hashes = node[order], hashes[order]
    keep = np.r_[True, (node[1:] != node[:-1]) | (hashes[1:] != hashes[:-1])] if len(node) else np.zeros(0, bool)
    pick = order[keep] // width  # the node each kept row came from, as a position in idx
    return node[keep], nodes["mask"][idx][pick], hashes[keep], nodes["tint"][idx][pick]


def _emit_exact(scratch: Scratch, plan: dict[str, Any], nodes: dict[str, Any], name: str) -> None:
    multi = is_multi(nodes["mask"])
    for kind, rows in (("exact", ~multi), ("exactmulti", multi)):
        idx = np.flatnonzero(rows)
        if not idx.size:
            continue
        cols = {k: nodes[k][idx] for k in ("node", "mask", "kh", "kl")}
        if kind == "exactmulti":
            cols.update({f"{p}{s}": nodes[f"{p}{s}"][idx] for s in range(MAX_POSITIONS) for p in ("ih", "il")})
        where = partition_of(cols["kh"] ^ EXACT_SALT, plan["band_parts"])
        scratch.write_partitioned(scratch.rel("bands"), f"{kind}-{name}", where, plan["band_parts"], cols)


def node_table(tables: list[pa.Table]) -> pa.Table:
    """The node rows of one node partition, sorted by node id."""
    if not tables:
        return pa.table({})
    table = pa.concat_tables(tables)
    return table.take(pa.array(np.argsort(table.column("node").to_numpy(), kind="stable")))
