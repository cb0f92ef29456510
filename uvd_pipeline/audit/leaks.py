"""Near-duplicates between the built test split and the training split, across sources, as a join
over the committed curation signatures (docs/CURATION.md, "Audit"): no image is read again.

A test record leaks when one of its signature rows and a signature row of a training record have
the same image id, or match as the cluster pass matches images: some hash of one (full or window,
curation/views.py) at most `threshold` bits from some hash of the other (the recipe's curation
threshold) and tints within the tolerance. Rows are images: a video's first, middle and last frames each count, so one
matching frame is enough (stricter than the cluster pass, which compares whole records).

Memory: the test side is held in chunks of about `chunk_rows` signature rows (whole units), each
indexed by the pigeonhole band tables of curation/bands.py (complete recall for distances up to
the threshold); the training side streams unit by unit past each chunk, and candidate pairs are
expanded in blocks of at most `max_pairs`. One chunk is the usual case (a test split is small);
each further chunk costs one more pass over the training units.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..curation.bands import BandLayout, choose_m, popcount
from ..curation.ledger import LEDGER_DIR, read_checked, read_entry
from ..curation.views import tints_close
from ..manifests.reader import Dataset

CHUNK_ROWS = 250_000
MAX_PAIRS = 2_000_000
EXAMPLES = 10
HOW_TO_GET = ("build with a `curation:` block (docs/CURATION.md; e.g. `curation: {dedup: true}`): "
              "its signature pass stores a perceptual hash of every record outside skip_sources")


@dataclass
class SplitLeaks:
    available: bool
    threshold: int | None = None
    test_records: int = 0  # records of test sequences that have signatures
    leaking_test_records: int = 0  # ... with a near-duplicate (or the same image) among training records
    exact_test_records: int = 0  # ... of which at least one image has the same image id
    train_records_matched: int = 0  # training records matching a test record (summed over chunks)
    chunks: int = 0
    units_without_signatures: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Side:
    """Signature rows of one unit's records in one split."""

    unit: int  # ordinal of the unit in ledger order
    source: str
    unit_id: str
    records: np.ndarray  # object array of record names
    image_ids: np.ndarray
    phash: np.ndarray  # uint64
    views: np.ndarray | None = None  # (rows, windows) uint64; None: the full hash only
    tint: np.ndarray | None = None  # uint16; None: 0 for every row

    def hash_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, hash, tint) for each of the rows' full and window hashes."""
        n = len(self.phash)
        views = self.views if self.views is not None else np.zeros((n, 0), np.uint64)
        width = 1 + views.shape[1]
        hashes = np.concatenate([self.phash[:, None], views], axis=1).reshape(-1)
        tint = self.tint if self.tint is not None else np.zeros(n, np.uint16)
        return np.repeat(np.arange(n), width), hashes, np.repeat(tint, width)


def split_leaks_by_signature(ds: Dataset, threshold: int, chunk_rows: int = CHUNK_ROWS, max_pairs: int = MAX_PAIRS,
                             examples: int = EXAMPLES) -> SplitLeaks:
    if not ds.store.exists(LEDGER_DIR) or not ds.store.list(LEDGER_DIR, ".json"):
        return SplitLeaks(False, threshold, note=f"no curation signatures in this output: {HOW_TO_GET}")
    out = SplitLeaks(True, threshold)
    missing: set[str] = set()
    for chunk in _test_chunks(ds, chunk_rows, missing):
        out.chunks += 1
        trains = (train for _, train in _sides(ds) if train is not None)
        _join_chunk(trains, chunk, threshold, max_pairs, out, examples)
    out.units_without_signatures = len(missing)
    if not out.chunks:
        out.note = "no test sequence has signatures (no test split, or its sources are in skip_sources)"
    elif missing:
        out.note = f"{len(missing)} units have no signatures (skip_sources): their records are not compared"
    return out


def _sides(ds: Dataset, missing: set[str] | None = None) -> Iterator[tuple[_Side | None, _Side | None]]:
    """(test side, train side) of every committed unit with signatures, in ledger order."""
    for n, (entry, manifest) in enumerate(ds.iter_entry_tables("manifest")):  # streamed: no ledger held
        sig_entry = read_entry(ds.store, entry["unit"])
        if sig_entry is None or sig_entry.get("role") != "train":
            if missing is not None and manifest.num_rows:
                missing.add(entry["unit"])
            continue
        if not manifest.num_rows:
            continue
        sig = read_checked(ds.store, sig_entry["file"])
        sig = sig.select(["record", "image_id", "phash"] + [c for c in ("views", "tint") if c in sig.column_names])
        lists = manifest["records"].combine_chunks()
        flat = pc.list_flatten(lists)
        split = pc.take(manifest["split"].combine_chunks(), pc.list_parent_indices(lists))
        yield tuple(_side(n, entry, sig, pc.unique(pc.filter(flat, pc.equal(split, s)))) for s in ("test", "train"))  # type: ignore[misc]


def _side(n: int, entry: dict[str, Any], sig: pa.Table, records: pa.Array) -> _Side | None:
    if not len(records):
        return None
    rows = sig.filter(pc.is_in(sig["record"], value_set=records))
    if not rows.num_rows:
        return None
    views = tint = None
    if "views" in rows.column_names:
        flat = pc.list_flatten(rows["views"].combine_chunks()).to_numpy(zero_copy_only=False).astype(np.uint64)
        views = flat.reshape(rows.num_rows, -1)
    if "tint" in rows.column_names:
        tint = rows["tint"].to_numpy().astype(np.uint16)
    return _Side(n, entry["source"], entry["unit"], np.asarray(rows["record"].to_pylist(), dtype=object),
                 np.asarray(rows["image_id"].to_pylist(), dtype=object), rows["phash"].to_numpy().astype(np.uint64),
                 views, tint)


def _test_chunks(ds: Dataset, chunk_rows: int, missing: set[str]) -> Iterator[list[_Side]]:
    chunk: list[_Side] = []
    rows = 0
    for test, _ in _sides(ds, missing):
        if test is None:
            continue
        chunk.append(test)
        rows += len(test.phash)
        if rows >= chunk_rows:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


class _Best:
    """Per group of identical test rows, its closest training row so far: smallest (distance,
    unit, row), so the choice does not depend on the order the pairs are found in."""

    def __init__(self, n: int) -> None:
        self.dist = np.full(n, 255, np.int16)
        self.unit = np.full(n, np.iinfo(np.int64).max, np.int64)
        self.row = np.zeros(n, np.int64)
        self.name: dict[int, tuple[str, str, str]] = {}  # group -> (source, unit, record) of that twin

    def keep(self, train: _Side, g: np.ndarray, j: np.ndarray, dist: np.ndarray) -> None:
        if not len(g):
            return
        order = np.lexsort((j, dist, g))
        g, j, dist = g[order], j[order], dist[order]
        first = np.r_[True, g[1:] != g[:-1]]
        for a, b, d in zip(g[first], j[first], dist[first]):
            if (d, train.unit, b) < (self.dist[a], self.unit[a], self.row[a]):
                self.dist[a], self.unit[a], self.row[a] = d, train.unit, b
                self.name[int(a)] = (train.source, train.unit_id, str(train.records[b]))


class _Index:
    """A test chunk: its rows' hashes (full and windows), grouped by identical (hash, tint) (band
    tables over the distinct ones, so a thousand copies of one blank image cost one comparison, not
    a thousand), and its rows grouped by image id."""

    def __init__(self, sides: list[_Side], threshold: int) -> None:
        self.sides = sides
        self.image_ids = np.concatenate([s.image_ids for s in sides])
        self.side_of = np.repeat(np.arange(len(sides)), [len(s.phash) for s in sides])
        self.record_key = np.concatenate([[f"{s.unit_id}\0{r}" for r in s.records] for s in sides])
        row, hashes, tint = [], [], []
        offset = 0
        for side in sides:
            r, h, t = side.hash_rows()
            row.append(r + offset)
            hashes.append(h)
            tint.append(t)
            offset += len(side.phash)
        self.hash_row = np.concatenate(row)  # the test row of each hash
        hashes, tint = np.concatenate(hashes), np.concatenate(tint)
        order = np.lexsort((tint, hashes))
        new = np.r_[True, (hashes[order][1:] != hashes[order][:-1]) | (tint[order][1:] != tint[order][:-1])]
        self.hashes, self.tints = hashes[order][new], tint[order][new]
        self.hash_group = np.empty(len(hashes), np.int64)  # per hash: its (hash, tint) group
        self.hash_group[order] = np.cumsum(new) - 1
        self.layout = BandLayout(threshold, choose_m(len(self.hashes), threshold))
        self.tables = []
        for t in range(len(self.layout.tables)):
            keys = self.layout.keys(self.layout.permuted(self.hashes, t), t)
            by_key = np.argsort(keys, kind="stable")
            self.tables.append((keys[by_key], by_key))
        self.unique_ids = pc.unique(pa.array(self.image_ids.tolist(), pa.string()))
        self.id_group = pc.index_in(pa.array(self.image_ids.tolist(), pa.string()), value_set=self.unique_ids).to_numpy()
        self.by_hash = _Best(len(self.hashes))
        self.by_id = _Best(len(self.unique_ids))  # distance 0: the same image

    def rows_best(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str, str] | None]]:
        """Per test row: (distance, unit, row, name) of its closest twin over its hashes and its id."""
        g = self.hash_group
        cand = (self.by_hash.dist[g], self.by_hash.unit[g], self.by_hash.row[g])
        pick = np.lexsort((cand[2], cand[1], cand[0], self.hash_row))
        first = pick[np.r_[True, self.hash_row[pick][1:] != self.hash_row[pick][:-1]]]  # one per test row, in row order
        a = tuple(c[first] for c in cand)
        best_group = g[first]
        i = self.id_group
        b = (self.by_id.dist[i], self.by_id.unit[i], self.by_id.row[i])
        better = (b[0] < a[0]) | ((b[0] == a[0]) & ((b[1] < a[1]) | ((b[1] == a[1]) & (b[2] < a[2]))))
        dist, unit, row = (np.where(better, y, x) for x, y in zip(a, b))
        names = [self.by_id.name.get(int(i[r])) if better[r] else self.by_hash.name.get(int(best_group[r])) for r in range(len(i))]
        return dist, unit, row, names


def _ranges(sorted_keys: np.ndarray, probe: np.ndarray, max_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(test positions in the sorted order, probe rows) of every pair with equal keys, in blocks
    of at most about max_pairs pairs."""
    lo = np.searchsorted(sorted_keys, probe, "left")
    hi = np.searchsorted(sorted_keys, probe, "right")
    counts = hi - lo
    rows = np.flatnonzero(counts)
    start = 0
    while start < len(rows):
        cum = np.cumsum(counts[rows[start:]])
        stop = start + max(1, int(np.searchsorted(cum, max_pairs, "right")))
        block = rows[start:stop]
        n = counts[block]
        probe_rows = np.repeat(block, n)
        offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        yield np.repeat(lo[block], n) + offsets, probe_rows
        start = stop


def _join_chunk(trains: Iterable[_Side], sides: list[_Side], threshold: int, max_pairs: int, out: SplitLeaks,
                examples: int) -> None:
    idx = _Index(sides, threshold)
    for train in trains:
        matched = np.zeros(len(train.phash), bool)
        rows, hashes, tints = train.hash_rows()
        for t, (keys, order) in enumerate(idx.tables):
            probe = idx.layout.keys(idx.layout.permuted(hashes, t), t)
            for pos, jh in _ranges(keys, probe, max_pairs):
                g = order[pos]
                dist = popcount(idx.hashes[g] ^ hashes[jh]).astype(np.int16)
                ok = (dist <= threshold) & tints_close(idx.tints[g], tints[jh])
                j = rows[jh[ok]]
                matched[j] = True
                idx.by_hash.keep(train, g[ok], j, dist[ok])
        ids = pc.index_in(pa.array(train.image_ids.tolist(), pa.string()), value_set=idx.unique_ids)
        j = np.flatnonzero(ids.is_valid().to_numpy(zero_copy_only=False))
        if len(j):
            matched[j] = True
            idx.by_id.keep(train, ids.to_numpy(zero_copy_only=False)[j].astype(np.int64), j, np.zeros(len(j), np.int16))
        if matched.any():
            out.train_records_matched += len(set(train.records[matched]))
    dist, unit, row, names = idx.rows_best()
    exact = idx.by_id.dist[idx.id_group] == 0
    hit = dist <= threshold
    records = idx.record_key
    out.test_records += len(set(records))
    leaking = sorted(set(records[hit]))
    out.leaking_test_records += len(leaking)
    out.exact_test_records += len(set(records[exact]))
    for key in leaking[: max(0, examples - len(out.examples))]:
        rows = np.flatnonzero(hit & (records == key))
        r = int(rows[np.lexsort((row[rows], unit[rows], dist[rows]))[0]])
        side = sides[idx.side_of[r]]
        src, twin_unit, rec = names[r]
        out.examples.append({"test_source": side.source, "test_unit": side.unit_id, "test_record": key.split("\0", 1)[1],
                             "train_source": src, "train_unit": twin_unit, "train_record": rec, "distance": int(dist[r]),
                             "same_image": bool(exact[rows].any())})
