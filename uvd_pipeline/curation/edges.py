"""Bucket stage of the cluster pass: one task per band partition groups its rows by (table, key),
confirms candidate pairs (Hamming distance <= threshold at every position, and for image
records tints within the tolerance of curation/views.py; exact rows: the same image ids at every
position) and writes each confirmed edge in both directions to the node
partition of its first end."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..manifests.store import OutputStore
from .bands import BandLayout, BucketStats, Edges, bucket_edges, exact_edges
from .exchange import U64, Scratch, column, load_plan, partition_of, run_once
from .nodes import MAX_POSITIONS


def edges_task(url: str, root: str, part: int) -> dict[str, Any]:
    scratch = Scratch(OutputStore(url), root)
    return run_once(scratch, scratch.rel("edges", f"task-{part:05d}"), lambda: _edges(scratch, part))


def _edges(scratch: Scratch, part: int) -> dict[str, Any]:
    plan = load_plan(scratch)
    layout = BandLayout(plan["threshold"], plan["m"])
    folder = scratch.rel("bands", f"p-{part:05d}")
    stats = BucketStats()
    edges = Edges()
    for kind in ("near", "multi"):
        tables = scratch.read_folder(folder, prefix=f"{kind}-")
        if not tables:
            continue
        node, tab = column(tables, "node", U64), column(tables, "tab", np.uint16)
        mask, h = column(tables, "mask", np.uint8, default=1), column(tables, "h", U64)
        extra = [column(tables, f"x{s}", U64) for s in range(MAX_POSITIONS)] if kind == "multi" else []
        tint = column(tables, "tint", np.uint16) if kind == "near" else None
        del tables
        order = np.argsort(tab, kind="stable")
        bounds = np.flatnonzero(np.r_[True, tab[order][1:] != tab[order][:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            rows = order[a:b]
            table = int(tab[rows[0]])
            stats.add(bucket_edges(
                mask[rows], h[rows], [x[rows] for x in extra], node[rows],
                layout.key_bits(table), plan["threshold"], plan["cap"], edges,
                tint=None if tint is None else tint[rows],
            ))
    for kind in ("exact", "exactmulti"):
        tables = scratch.read_folder(folder, prefix=f"{kind}-")
        if not tables:
            continue
        names = ["mask", "kh", "kl"] + ([f"{p}{s}" for s in range(MAX_POSITIONS) for p in ("ih", "il")] if kind == "exactmulti" else [])
        cols = [column(tables, n, U64) for n in names]
        exact_edges(cols, column(tables, "node", U64), edges)
    u, v = edges.unique()
    both_u, both_v = np.concatenate([u, v]), np.concatenate([v, u])
    scratch.write_partitioned(
        scratch.rel("edges"), f"from-{part:05d}", partition_of(both_u, plan["node_parts"]), plan["node_parts"],
        {"u": both_u, "v": both_v},
    )
    return {**stats.as_dict(), "edges": int(len(u))}
