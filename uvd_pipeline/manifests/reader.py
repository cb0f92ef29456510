"""Read what was committed: only files that a ledger entry names are ever opened.

Two ways in. `Dataset.manifest` is the whole manifest as one Arrow table: handy for a sample or a
demo-sized output, but at full scale it is hundreds of GB. `Dataset.iter_units()` walks the
committed units one at a time (unit-id order, a few reads ahead), so digest, summary, verify and
export need memory for one unit, whatever the dataset's size. For queries over everything, use the
Parquet roll-ups (rollup/) with DuckDB.
"""

from __future__ import annotations

import hashlib
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
from .entry import entry_problems
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

    def __init__(self, root: str, check_hashes: bool = True) -> None:
        self.store = OutputStore(root)
        # Every committed file read is checked against its ledger sha256 (a flipped byte raises
        # DatasetError); check_hashes=False skips that for speed on trusted storage.
        self.check_hashes = check_hashes
        # Object stores have no empty folders: before its first commit, an output is known by
        # the resolved recipe that `uvd run` writes first.
        if not self.store.exists(LEDGER_DIR) and not self.store.exists(RECIPE_FILE):
            raise DatasetError(f"{root}: not a uvd output directory (no {LEDGER_DIR}/ nor {RECIPE_FILE})")
        self._shards: OrderedDict[str, np.ndarray] = OrderedDict()  # least recently used first
        self.ledger_sha256: dict[str, str] = {}  # entry file name -> sha256 of its bytes (the seal)

    @cached_property
    def ledger_names(self) -> list[str]:
        """The ledger entries' file names (`<unit>.json`), in unit-id order: one listing."""
        return sorted(self.store.list(LEDGER_DIR, ".json"), key=lambda n: n[: -len(".json")])

    @property
    def unit_count(self) -> int:
        return len(self.ledger_names)

    def iter_entries(self) -> Iterator[dict[str, Any]]:
        """The ledger entries in unit-id order, read READ_AHEAD at a time and not kept: memory for
        a few entries whatever the ledger's size (the whole list is `ledger`). Each entry is checked
        (JSON, shape, paths: DatasetError naming the file) and its bytes' sha256 recorded in
        `ledger_sha256` (the seal)."""
        if "ledger" in self.__dict__:
            yield from self.ledger
            return
        names = self.ledger_names
        rels = [f"{LEDGER_DIR}/{name}" for name in names]
        for name, rel, data in zip(names, rels, read_ahead(self.store, rels)):
            try:
                entry = json.loads(data)
            except ValueError as exc:
                raise DatasetError(f"{self.store.path(rel)}: ledger entry is not valid JSON ({exc})") from None
            problems = entry_problems(entry, self.store.path(rel), name)
            if problems:
                raise DatasetError(f"{problems[0]}; run `uvd verify`")
            self.ledger_sha256[name] = hashlib.sha256(data).hexdigest()
            yield entry

    @cached_property
    def ledger(self) -> list[dict[str, Any]]:
        """Every ledger entry (one per committed unit), in unit-id order, in memory (~4 KB per unit
        as Python objects: walks of the whole dataset use iter_entries instead). An entry that is
        not JSON, not of the documented shape or names a path outside its folder raises
        DatasetError."""
        return list(self.iter_entries())

    def entry(self, unit: str) -> dict[str, Any] | None:
        """One unit's ledger entry (None if the unit is not committed), read alone unless the whole
        ledger is already in memory; checked like every entry."""
        if "ledger" in self.__dict__:
            return self._entries_by_unit.get(unit)
        name = f"{unit}.json"
        rel = f"{LEDGER_DIR}/{name}"
        if "/" in unit or unit in ("", ".", "..") or not self.store.exists(rel):
            return None
        try:
            entry = json.loads(self.store.read_bytes(rel))
        except ValueError as exc:
            raise DatasetError(f"{self.store.path(rel)}: ledger entry is not valid JSON ({exc})") from None
        problems = entry_problems(entry, self.store.path(rel), name)
        if problems:
            raise DatasetError(f"{problems[0]}; run `uvd verify`")
        return entry

    def _checked(self, entry: dict[str, Any], kind: str, data: bytes) -> bytes:
        """data, after checking it against the entry's sha256 when check_hashes is on."""
        info = entry["files"][kind]
        if self.check_hashes and hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise DatasetError(
                f"{self.store.path(info['path'])}: {kind} of unit {entry['unit']} does not match its sha256 in the "
                "ledger (file altered); run `uvd verify`"
            )
        return data

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

    def shard(self, rel: str, sha256: str | None = None) -> np.ndarray:
        """A token shard as a uint16 array: memory-mapped on local disks, read whole elsewhere. The
        last SHARD_CACHE shards stay open. Checked against `sha256` (by default the one its ledger
        entry names: finding it reads the whole ledger once)."""
        if rel in self._shards:
            self._shards.move_to_end(rel)
            return self._shards[rel]
        if sha256 is None and self.check_hashes:
            sha256 = self._shard_sha256.get(rel)
        arr = self._load_shard(rel, sha256)
        self._shards[rel] = arr
        if len(self._shards) > SHARD_CACHE:
            self._shards.popitem(last=False)
        return arr

    @cached_property
    def _shard_sha256(self) -> dict[str, str]:
        return {e["files"]["shard"]["path"]: e["files"]["shard"]["sha256"] for e in self.ledger}

    def _load_shard(self, rel: str, sha256: str | None, data: bytes | None = None) -> np.ndarray:
        """A shard from its bytes (read here if not given) or memory-mapped on local disks; checked
        against sha256 when check_hashes is on (a shard no ledger entry names is refused then)."""
        local = self.store.local_path(rel)
        where = self.store.path(rel)
        if self.check_hashes:
            if sha256 is None:
                raise DatasetError(f"{where}: no ledger entry names this shard")
            if data is None and local is not None:
                h = hashlib.sha256()
                with open(local, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                ok = h.hexdigest() == sha256
            else:
                data = self.store.read_bytes(rel) if data is None else data
                ok = hashlib.sha256(data).hexdigest() == sha256
            if not ok:
                raise DatasetError(f"{where}: shard does not match its sha256 in the ledger (file altered); run `uvd verify`")
        if data is None:
            data = local if local is not None else self.store.read_bytes(rel)
        return load_shard(data, where)

    def iter_tables(self, kind: str = "manifest", entries: Iterable[dict[str, Any]] | None = None) -> Iterator[pa.Table]:
        """Each unit's manifest (or rejects) table, in ledger order, one at a time."""
        for _, table in self.iter_entry_tables(kind, entries):
            yield table

    def iter_entry_tables(self, kind: str = "manifest", entries: Iterable[dict[str, Any]] | None = None
                          ) -> Iterator[tuple[dict[str, Any], pa.Table]]:
        """(ledger entry, its manifest or rejects table) per unit, in ledger order (all units, streamed,
        when entries is None), READ_AHEAD files in flight."""
        for entry, (table,) in self.iter_unit_tables((kind,), entries):
            yield entry, table

    def iter_unit_tables(self, kinds: tuple[str, ...], entries: Iterable[dict[str, Any]] | None = None
                         ) -> Iterator[tuple[dict[str, Any], tuple[pa.Table, ...]]]:
        """(ledger entry, its tables of `kinds`, e.g. manifest and rejects) per unit, in ledger order:
        one pass over the ledger for several kinds of file, READ_AHEAD units in flight."""
        entries = self.iter_entries() if entries is None else entries

        def read(e: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
            return e, [self.store.read_bytes(e["files"][kind]["path"]) for kind in kinds]

        for entry, datas in ordered_map(read, entries):
            tables = []
            for kind, data in zip(kinds, datas):
                data = self._checked(entry, kind, data)
                try:
                    tables.append(read_arrow(data))
                except (pa.ArrowInvalid, OSError) as exc:
                    where = self.store.path(entry["files"][kind]["path"])
                    raise DatasetError(f"{where}: unreadable {kind} of unit {entry['unit']} ({exc}); run `uvd verify`") from None
            yield entry, tuple(tables)

    def iter_units(self) -> Iterator[tuple[dict[str, Any], pa.Table, np.ndarray]]:
        """(ledger entry, manifest, tokens) per committed unit in unit-id order: memory for one unit
        (plus the read-ahead), whatever the dataset's size; the ledger is streamed, not kept."""
        def read(entry: dict[str, Any]) -> tuple[dict[str, Any], bytes, bytes | None]:
            files = entry["files"]
            shard = None if self.store.local else self.store.read_bytes(files["shard"]["path"])
            return entry, self.store.read_bytes(files["manifest"]["path"]), shard

        for entry, manifest_data, shard_data in ordered_map(read, self.iter_entries()):
            files = entry["files"]
            try:
                manifest = read_arrow(self._checked(entry, "manifest", manifest_data))
            except (pa.ArrowInvalid, OSError) as exc:
                raise DatasetError(f"{self.store.path(files['manifest']['path'])}: unreadable manifest of unit "
                                   f"{entry['unit']} ({exc}); run `uvd verify`") from None
            yield entry, manifest, self._load_shard(files["shard"]["path"], files["shard"]["sha256"], shard_data)

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
        if units is None:
            entries: Iterable[dict[str, Any]] = self.iter_entries()
        else:  # only these units' entries are read (the whole ledger is not, unless already loaded)
            entries = [e for e in (self.entry(u) for u in dict.fromkeys(units)) if e is not None]
        found: dict[str, np.ndarray] = {}
        for entry, manifest in self.iter_entry_tables("manifest", entries):
            cols = manifest.select(["sequence_id", "offset", "n_tokens"]).to_pydict()
            hits = [(sid, off, n) for sid, off, n in zip(cols["sequence_id"], cols["offset"], cols["n_tokens"]) if sid in wanted]
            if hits:
                shard = self.shard(entry["files"]["shard"]["path"], entry["files"]["shard"]["sha256"])
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


def open_dataset(out_dir: str, check_hashes: bool = True) -> Dataset:
    """A committed output; check_hashes=False skips checking each file read against its sha256."""
    return Dataset(out_dir, check_hashes=check_hashes)
