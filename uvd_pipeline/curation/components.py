"""Connected components by distributed min-label propagation over hash partitions of the nodes.

A node's label is a keep key (rank, kh, kl, node) (see nodes.py): it starts as the node's own
key, and each round a node whose label got smaller sends it to its neighbours; a node takes the
smallest label it receives. When a round sends nothing, every edge joins two nodes of one label,
and that label is the smallest keep key of the component: the cluster's keeper. Only nodes with
at least one edge take part; a partition task holds its own nodes' labels and adjacency, so its
memory is bounded by the partition, never by the whole graph. Each round is one stage of tasks
(one per partition) whose files are written whole, so a round rerun after a kill gives the same
labels. The number of rounds is the largest distance from a keeper to a node of its cluster, plus
two (round 0 sends every node's own key; the last round's messages change nothing).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..manifests.store import OutputStore
from .bands import unique_pairs
from .emit import node_table
from .exchange import U64, Scratch, column, load_plan, partition_of, run_once

LABEL = ("lrank", "lkh", "lkl", "lnode")


def key_less(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Element-wise lexicographic a < b over columns (first column primary)."""
    less = np.zeros(len(a[0]), dtype=bool)
    equal = np.ones(len(a[0]), dtype=bool)
    for x, y in zip(a, b):
        less |= equal & (x < y)
        equal &= x == y
    return less


def min_by(target: np.ndarray, keys: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """For each distinct target, the smallest key (lexicographic) among its rows."""
    order = np.lexsort([*keys[::-1], target])
    t = target[order]
    first = np.r_[True, t[1:] != t[:-1]] if len(t) else np.zeros(0, bool)
    return t[first], [k[order][first] for k in keys]


def round_task(url: str, root: str, part: int, round_: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    marker = scratch.rel("labels", f"r-{round_:04d}", f"task-{part:05d}")
    return run_once(scratch, marker, lambda: _round(scratch, part, round_))


def labels_path(scratch: Scratch, round_: int, part: int) -> str:
    return scratch.rel("labels", f"r-{round_:04d}", f"p-{part:05d}.arrow")


def read_labels(scratch: Scratch, round_: int, part: int) -> tuple[np.ndarray, list[np.ndarray]]:
    path = labels_path(scratch, round_, part)
    if not scratch.store.exists(path):
        return np.zeros(0, U64), [np.zeros(0, np.uint16), *(np.zeros(0, U64) for _ in range(3))]
    t = scratch.read_table(path)
    return t.column("node").to_numpy(), [t.column(c).to_numpy().copy() for c in LABEL]


def _round(scratch: Scratch, part: int, round_: int) -> dict[str, Any]:
    plan = load_plan(scratch)
    result: dict[str, Any] = {}
    if round_ == 0:
        u, v = _adjacency_from_edges(scratch, part)
        vertices = np.unique(u)
        nodes = node_table(scratch.read_folder(scratch.rel("nodes", f"p-{part:05d}")))
        at = np.searchsorted(nodes.column("node").to_numpy(), vertices) if len(vertices) else np.zeros(0, np.int64)
        label = [nodes.column(c).to_numpy()[at] for c in ("rank", "kh", "kl")] + [vertices] if len(vertices) else \
            [np.zeros(0, np.uint16), np.zeros(0, U64), np.zeros(0, U64), np.zeros(0, U64)]
        changed = np.ones(len(vertices), dtype=bool)
        result.update(vertices=int(len(vertices)), directed_edges=int(len(u)))
    else:
        u, v = _read_adjacency(scratch, part)
        vertices, label = read_labels(scratch, round_ - 1, part)
        msgs = scratch.read_folder(scratch.rel("msgs", f"r-{round_ - 1:04d}", f"p-{part:05d}"))
        target = column(msgs, "v", U64)
        got, best = min_by(target, [column(msgs, c, t) for c, t in zip(LABEL, (np.uint16, U64, U64, U64))])
        at = np.searchsorted(vertices, got)
        better = key_less(best, [x[at] for x in label])
        changed = np.zeros(len(vertices), dtype=bool)
        changed[at[better]] = True
        for x, b in zip(label, best):
            x[at[better]] = b[better]
    if len(vertices):
        columns = {"node": vertices, **dict(zip(LABEL, label))}
        scratch.write_table(labels_path(scratch, round_, part), pa.table(columns))
    result.update(changed=int(changed.sum()), messages=_send(scratch, plan, part, round_, u, v, vertices, label, changed))
    return result


def _send(scratch: Scratch, plan: dict[str, Any], part: int, round_: int, u: np.ndarray, v: np.ndarray,
          vertices: np.ndarray, label: list[np.ndarray], changed: np.ndarray) -> int:
    """Each changed node's label to its neighbours' partitions."""
    if not changed.any():
        return 0
    at = np.searchsorted(vertices, u)
    rows = np.flatnonzero(changed[at])
    columns = {"v": v[rows], **{c: x[at[rows]] for c, x in zip(LABEL, label)}}
    folder = scratch.rel("msgs", f"r-{round_:04d}")
    scratch.write_partitioned(folder, f"from-{part:05d}", partition_of(v[rows], plan["node_parts"]), plan["node_parts"], columns)
    return int(len(rows))


def _adjacency_from_edges(scratch: Scratch, part: int) -> tuple[np.ndarray, np.ndarray]:
    tables = scratch.read_folder(scratch.rel("edges", f"p-{part:05d}"))
    u, v = unique_pairs(column(tables, "u", U64), column(tables, "v", U64))
    if len(u):
        scratch.write_table(scratch.rel("adjacency", f"p-{part:05d}.arrow"), pa.table({"u": u, "v": v}))
    return u, v


def _read_adjacency(scratch: Scratch, part: int) -> tuple[np.ndarray, np.ndarray]:
    path = scratch.rel("adjacency", f"p-{part:05d}.arrow")
    if not scratch.store.exists(path):
        return np.zeros(0, U64), np.zeros(0, U64)
    t = scratch.read_table(path)
    return t.column("u").to_numpy(), t.column("v").to_numpy()
