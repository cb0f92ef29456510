"""Synthetic signature tables and an O(N^2) reference of the cluster pass's rule, for the tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from uvd_pipeline.curation.views import TINT_TOLERANCE, WINDOWS
from uvd_pipeline.manifests.store import OutputStore


def image_id(seed: int | str) -> str:
    return hashlib.sha256(str(seed).encode()).hexdigest()[:32]


def flip(h: int, bits: int, rng: np.random.Generator) -> int:
    for b in rng.choice(64, size=bits, replace=False):
        h ^= 1 << int(b)
    return h


@dataclass
class Rec:
    unit: str
    record: str
    ids: dict[int, str]  # position -> image id
    hashes: dict[int, int]  # position -> phash
    views: list[int] | None = None  # window hashes of an image record (curation/views.py)
    tint: int = 0


def write_signatures(store: OutputStore, unit: str, recs: list[Rec]) -> str:
    rows = [(r.record, r.ids[p], p, r.hashes[p]) for r in recs for p in sorted(r.ids)]
    table = pa.table({
        "record": pa.array([x[0] for x in rows], pa.string()),
        "image_id": pa.array([x[1] for x in rows], pa.string()),
        "position": pa.array([x[2] for x in rows], pa.int16()),
        "phash": pa.array([x[3] for x in rows], pa.uint64()),
        "width": pa.array([64] * len(rows), pa.int32()),
    })
    if any(r.views is not None for r in recs):
        views = [r.views if r.views is not None else [r.hashes[p]] * WINDOWS for r in recs for p in sorted(r.ids)]
        table = table.append_column("views", pa.array(views, pa.list_(pa.uint64(), WINDOWS)))
        table = table.append_column("tint", pa.array([r.tint for r in recs for p in sorted(r.ids)], pa.uint16()))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    path = f"curation/signatures/{unit}.arrow"
    store.makedirs("curation/signatures")
    store.write_bytes(path, sink.getvalue().to_pybytes())
    return path


def reference(recs: list[Rec], units: dict[str, tuple[str, int, bool]], threshold: int) -> dict[str, list[dict]]:
    """The contract's rule by brute force: all pairs, union-find, smallest keep key per component.
    units: name -> (source, rank, is_eval). Returns unit -> decision rows sorted by record."""
    n = len(recs)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def match(a: Rec, b: Rec) -> bool:
        if set(a.ids) != set(b.ids):
            return False
        if all(a.ids[p] == b.ids[p] for p in a.ids):
            return True
        if len(a.ids) == 1 and (a.views or b.views):  # an image: any hash of one near any of the other
            ha, hb = [a.hashes[min(a.ids)], *(a.views or [])], [b.hashes[min(b.ids)], *(b.views or [])]
            close = abs((a.tint >> 8) - (b.tint >> 8)) <= TINT_TOLERANCE and abs((a.tint & 255) - (b.tint & 255)) <= TINT_TOLERANCE
            return close and any(bin(x ^ y).count("1") <= threshold for x in ha for y in hb)
        return all(bin(a.hashes[p] ^ b.hashes[p]).count("1") <= threshold for p in a.ids)

    for i in range(n):
        for j in range(i + 1, n):
            if match(recs[i], recs[j]):
                parent[find(i)] = find(j)
    comps: dict[int, list[int]] = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)

    def key(i: int):
        r = recs[i]
        return (units[r.unit][1], r.ids[min(r.ids)], r.unit, r.record)

    out: dict[str, list[dict]] = {}
    for members in comps.values():
        if len(members) < 2:
            continue
        k = min(members, key=key)
        keeper = recs[k]
        for i in members:
            r = recs[i]
            if i == k or units[r.unit][2]:
                continue
            if units[keeper.unit][2]:
                reason = "eval_contamination"
            elif r.ids == keeper.ids:
                reason = "duplicate"
            else:
                reason = "near_duplicate"
            out.setdefault(r.unit, []).append({
                "record": r.record, "image_id": r.ids[min(r.ids)], "reason": reason,
                "twin_unit": keeper.unit, "twin_record": keeper.record, "twin_image_id": keeper.ids[min(keeper.ids)],
                "twin_source": units[keeper.unit][0],
                "distance": max(bin(r.hashes[p] ^ keeper.hashes[p]).count("1") for p in r.ids),
                "cluster_size": len(members),
            })
    return {u: sorted(rows, key=lambda x: x["record"]) for u, rows in out.items()}


def random_world(seed: int, n: int, threshold: int, units: int = 6, videos: bool = True) -> list[Rec]:
    """n records over `units` units: random hashes, ~10% planted near copies at distance
    0..threshold, some exact copies (same image id), some chains, and a few video records."""
    rng = np.random.default_rng(seed)
    recs: list[Rec] = []
    for i in range(n):
        unit = f"u{int(rng.integers(units))}"
        kind = rng.random()
        if recs and kind < 0.10:  # near copy of an earlier record
            src = recs[int(rng.integers(len(recs)))]
            d = int(rng.integers(0, threshold + 1))
            recs.append(Rec(unit, f"r{i:06d}", {p: image_id((i, p)) for p in src.ids},
                            {p: flip(h, d, rng) for p, h in src.hashes.items()}))
        elif recs and kind < 0.13:  # exact copy: same ids and hashes
            src = recs[int(rng.integers(len(recs)))]
            recs.append(Rec(unit, f"r{i:06d}", dict(src.ids), dict(src.hashes)))
        elif recs and kind < 0.15:  # near copy a little over the threshold (must not match alone)
            src = recs[int(rng.integers(len(recs)))]
            recs.append(Rec(unit, f"r{i:06d}", {p: image_id((i, p)) for p in src.ids},
                            {p: flip(h, threshold + 1, rng) for p, h in src.hashes.items()}))
        elif videos and kind < 0.18:
            positions = [0, 1, 2] if rng.random() < 0.7 else [0, 2]
            recs.append(Rec(unit, f"r{i:06d}", {p: image_id((i, p)) for p in positions},
                            {p: int(rng.integers(0, 2**63)) * 2 + int(rng.integers(2)) for p in positions}))
        else:
            recs.append(Rec(unit, f"r{i:06d}", {0: image_id(i)}, {0: int(rng.integers(0, 2**63)) * 2 + int(rng.integers(2))}))
    return recs


def random_view_world(seed: int, n: int, threshold: int, units: int = 6) -> list[Rec]:
    """Image records with window hashes and tints: random ones, crops (full hash near one of the
    source's windows), captions (one window near the same window of the source), copies whose
    tint is just inside or just outside the tolerance, and exact copies."""
    rng = np.random.default_rng(seed)

    def rand() -> int:
        return int(rng.integers(0, 2**63)) * 2 + int(rng.integers(2))

    def tint() -> int:
        return int(rng.integers(40, 200)) << 8 | int(rng.integers(40, 200))

    recs: list[Rec] = []
    for i in range(n):
        unit, kind, rec = f"u{int(rng.integers(units))}", rng.random(), f"r{i:06d}"
        src = recs[int(rng.integers(len(recs)))] if recs else None
        d = int(rng.integers(0, threshold + 1))
        views = [rand() for _ in range(WINDOWS)]
        if src is not None and kind < 0.08:  # crop: its full hash near a window of the source
            recs.append(Rec(unit, rec, {0: image_id(i)}, {0: flip(int(src.views[int(rng.integers(WINDOWS))]), d, rng)}, views, src.tint))
        elif src is not None and kind < 0.14:  # caption: one window near the source's same window
            w = int(rng.integers(WINDOWS))
            views[w] = flip(src.views[w], d, rng)
            shift = int(rng.integers(-TINT_TOLERANCE - 2, TINT_TOLERANCE + 3))
            recs.append(Rec(unit, rec, {0: image_id(i)}, {0: rand()}, views, (src.tint & 0xFF00) | ((src.tint & 255) + shift)))
        elif src is not None and kind < 0.17:  # exact copy
            recs.append(Rec(unit, rec, dict(src.ids), dict(src.hashes), list(src.views), src.tint))
        else:
            recs.append(Rec(unit, rec, {0: image_id(i)}, {0: rand()}, views, tint()))
    return recs
