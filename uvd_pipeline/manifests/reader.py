"""Read what was committed: only files that a ledger entry names are ever opened.

Two ways in. `Dataset.manifest` is the whole manifest as one Arrow table: handy for a sample or a
demo-sized output, but at full scale it is hundreds of GB. `Dataset.iter_units()` walks the
committed units one at a time (unit-id order, a few reads ahead), so digest, summary, verify and
export need memory for one unit, whatever the dataset's size. For queries over everything, use the
Parquet roll-ups (rollup/) with DuckDB.
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DatasetError
from .schema import DATASET_FILE, LEDGER_DIR, MANIFEST_SCHEMA, RECIPE_FILE, REJECTS_SCHEMA
from .store import OutputStore


READ_AHEAD = 16  # unit files fetched at once (object stores: latency, not bandwidth, bounds this)
SHARD_CACHE = 64  # token shards kept open by random access (Dataset.tokens)


def read_arrow(data: bytes) -> pa.Table:
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], depth: int = READ_AHEAD) -> Iterator[Any]:
    """fn(item) for each item, in order, with up to `depth` calls running at once in threads (for
    I/O: object-store reads are bound by latency, and hashing and decoding release the GIL)."""
    todo = iter(items)
    with ThreadPoolExecutor(max_workers=depth) as pool:
        pending: deque = deque(pool.submit(fn, item) for _, item in zip(range(depth), todo))
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(fn, nxt))
            yield result


def read_ahead(store: OutputStore, paths: Iterable[str], depth: int = READ_AHEAD) -> Iterator[bytes]:
    """The files' bytes in order, with up to `depth` reads in flight."""
    return ordered_map(store.read_bytes, paths, depth)


def load_shard(data_or_path: bytes | str, where: str) -> np.ndarray:
    """A token shard as a 1-D uint16 array: memory-mapped from a local path, parsed from bytes."""
    if isinstance(data_or_path, str):
        arr = np.load(data_or_path, mmap_mode="r", allow_pickle=False)
    else:
        arr = np.load(io.BytesIO(data_or_path), allow_pickle=False)
    if arr.dtype != np.uint16 or arr.ndim != 1:
        raise DatasetError(f"{where}: expected a 1-D uint16 shard, got {arr.dtype} {arr.shape}")
    return arr


class Dataset:
    """A committed output directory: manifest table, token access, rejects, ledger."""

    def __init__(self, root: str) -> None:
        self.store = OutputStore(root)
        # Object stores have no empty folders: before its first commit, an output is known by
        # the resolved recipe that `uvd run` writes first.
        if not self.store.exists(LEDGER_DIR) and not self.store.exists(RECIPE_FILE):
            raise DatasetError(f"{root}: not a uvd output directory (no {LEDGER_DIR}/ nor {RECIPE_FILE})")
        self._shards: OrderedDict[str, np.ndarray] = OrderedDict()  # least recently used first

    @cached_property
    def ledger(self) -> list[dict[str, Any]]:
        """Every ledger entry (one per committed unit), in unit-id order."""
        rels = [f"{LEDGER_DIR}/{name}" for name in self.store.list(LEDGER_DIR, ".json")]
        entries = []
        for rel, data in zip(rels, read_ahead(self.store, rels)):
            try:
                entries.append(json.loads(data))
            except ValueError as exc:
                raise DatasetError(f"{self.store.path(rel)}: ledger entry is not valid JSON ({exc})") from None
        return sorted(entries, key=lambda e: str(e.get("unit", "")))

    @cached_property
    def _entries_by_unit(self) -> dict[str, dict[str, Any]]:
        return {e["unit"]: e for e in self.ledger}

    @cached_property
    def manifest(self) -> pa.Table:
        """The whole manifest in memory (demo-sized outputs; see iter_units for any size)."""
        tables = list(self.iter_tables("manifest"))
        return pa.concat_tables(tables) if tables else MANIFEST_SCHEMA.empty_table()

    def rejects(self) -> pa.Table:
        tables = list(self.iter_tables("rejects"))
        return pa.concat_tables(tables) if tables else REJECTS_SCHEMA.empty_table()

    def shard(self, rel: str) -> np.ndarray:
        """A token shard as a uint16 array: memory-mapped on local disks, read whole elsewhere. The
        last SHARD_CACHE shards stay open."""
        if rel in self._shards:
            self._shards.move_to_end(rel)
            return self._shards[rel]
        local = self.store.local_path(rel)
        arr = load_shard(local if local is not None else self.store.read_bytes(rel), self.store.path(rel))
        self._shards[rel] = arr
        if len(self._shards) > SHARD_CACHE:
            self._shards.popitem(last=False)
        return arr

    def iter_tables(self, kind: str = "manifest", entries: list[dict[str, Any]] | None = None) -> Iterator[pa.Table]:
        """Each unit's manifest (or rejects) table, in ledger order, one at a time."""
        entries = self.ledger if entries is None else entries
        for entry, data in zip(entries, read_ahead(self.store, (e["files"][kind]["path"] for e in entries))):
            try:
                yield read_arrow(data)
            except (pa.ArrowInvalid, OSError) as exc:
                where = self.store.path(entry["files"][kind]["path"])
                raise DatasetError(f"{where}: unreadable {kind} of unit {entry['unit']} ({exc}); run `uvd verify`") from None

    def iter_units(self) -> Iterator[tuple[dict[str, Any], pa.Table, np.ndarray]]:
        """(ledger entry, manifest, tokens) per committed unit in unit-id order: memory for one unit
        (plus the read-ahead), whatever the dataset's size."""
        entries = self.ledger
        shards = read_ahead(self.store, (e["files"]["shard"]["path"] for e in entries)) if not self.store.local else None
        for entry, manifest in zip(entries, self.iter_tables("manifest", entries)):
            rel = entry["files"]["shard"]["path"]
            data = self.store.local_path(rel) if shards is None else next(shards)
            yield entry, manifest, load_shard(data, self.store.path(rel))

    def tokens(self, sequence_id: str, unit: str | None = None) -> np.ndarray:
        """One sequence's tokens. With its `unit` (manifest rows and preview entries carry it) only
        that unit's manifest is read; without, the units are scanned until it turns up."""
        found = self.tokens_of([sequence_id], None if unit is None else [unit])
        if sequence_id not in found:
            where = f" in unit {unit}" if unit is not None else ""
            raise KeyError(f"no sequence {sequence_id!r}{where} in {self.store.url}")
        return found[sequence_id]

    def tokens_of(self, sequence_ids: Iterable[str], units: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """The tokens of the sequences asked for, found in one pass over the manifests (of `units`
        only, when given) that stops once all are found: memory for one unit and the answers."""
        wanted = set(sequence_ids)
        by_unit = self._entries_by_unit
        entries = self.ledger if units is None else [by_unit[u] for u in dict.fromkeys(units) if u in by_unit]
        found: dict[str, np.ndarray] = {}
        for entry, manifest in zip(entries, self.iter_tables("manifest", entries)):
            cols = manifest.select(["sequence_id", "offset", "n_tokens"]).to_pydict()
            hits = [(sid, off, n) for sid, off, n in zip(cols["sequence_id"], cols["offset"], cols["n_tokens"]) if sid in wanted]
            if hits:
                shard = self.shard(entry["files"]["shard"]["path"])
                found.update((sid, shard[off : off + n]) for sid, off, n in hits)
            if len(found) == len(wanted):
                break
        return found

    def iter_sequences(self) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """(manifest row, tokens) for every committed sequence, unit by unit (bounded memory)."""
        for _, manifest, tokens in self.iter_units():
            for row in manifest.to_pylist():
                yield row, tokens[row["offset"] : row["offset"] + row["n_tokens"]]

    def summary(self) -> dict[str, Any] | None:
        if not self.store.exists(DATASET_FILE):
            return None
        return json.loads(self.store.read_text(DATASET_FILE))


def open_dataset(out_dir: str) -> Dataset:
    return Dataset(out_dir)
