"""Parquet roll-ups of what was committed, for tools that read Parquet but not Arrow IPC files.

`rollup/manifest/*.parquet` and `rollup/rejects/*.parquet` under the output root hold the rows of
every committed unit's manifest and rejects, with the format's schemas, so DuckDB, pandas, polars
and Hugging Face `datasets` read the whole dataset with one glob and no uvd code:

    SELECT source, count(*) AS sequences, sum(n_tokens) AS tokens
    FROM 'OUT/rollup/manifest/*.parquet' GROUP BY source

They are derived files, rebuilt at the end of every `uvd run` from the ledger, so orphan files of
an interrupted unit never enter them. A chunk file covers the units of one source whose plan index
falls in one block of `UNITS_PER_CHUNK` (`<source>-<block>.parquet`): its boundaries do not move
when later units commit, and a chunk is rewritten only when its committed units changed (each file
records the hash of its units' manifest checksums in its Parquet metadata). A chunk is streamed one
unit at a time and replaced whole (a temporary name renamed on local disks, an upload that appears
only when complete on object stores).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .reader import read_ahead, read_arrow
from .schema import MANIFEST_SCHEMA, REJECTS_SCHEMA
from .store import OutputStore

ROLLUP_DIR = "rollup"
UNITS_PER_CHUNK = 1000
SIGNATURE_KEY = b"uvd.rollup.units"
_KINDS = (("manifest", MANIFEST_SCHEMA), ("rejects", REJECTS_SCHEMA))


def chunk_name(unit: str) -> str:
    """`<source>-<block>` for a unit id `<source>-<index>`."""
    source, _, index = unit.rpartition("-")
    return f"{source}-{int(index) // UNITS_PER_CHUNK:06d}"


def write_rollups(store: OutputStore, ledger: Iterable[dict[str, Any]],
                  manifest_schema: pa.Schema = MANIFEST_SCHEMA) -> dict[str, dict[str, int]]:
    """Bring both roll-ups up to date with `ledger` (entries in unit-id order, as
    `Dataset.iter_entries` streams them: one chunk of entries is held at a time; any order is
    accepted and then held whole); returns, per kind, rows, units, chunks and how many chunk files
    were (re)written this time. `manifest_schema` is the output's (schema.manifest_schema: with the
    scores column when the recipe has filters)."""
    kinds = (("manifest", manifest_schema), ("rejects", REJECTS_SCHEMA))
    folders = {kind: f"{ROLLUP_DIR}/{kind}" for kind, _ in _KINDS}
    present = {}
    for kind, folder in folders.items():
        store.makedirs(folder)
        present[kind] = store.names(folder, ".parquet")
    out = {kind: {"rows": 0, "units": 0, "chunks": 0, "written": 0} for kind, _ in _KINDS}
    done: set[str] = set()
    for name, entries in _chunks(ledger):
        done.add(name)
        for kind, schema in kinds:
            stats, rel = out[kind], f"{folders[kind]}/{name}.parquet"
            signature = _signature(kind, entries)
            rows = _current_rows(store, rel, signature) if f"{name}.parquet" in present[kind] else None
            if rows is None:
                rows = _write_chunk(store, rel, schema, signature, _tables(store, kind, entries))
                stats["written"] += 1
            stats["rows"] += rows
            stats["units"] += len(entries)
            stats["chunks"] += 1
    for kind, folder in folders.items():
        for stale in present[kind] - {f"{n}.parquet" for n in done}:  # a chunk no ledger entry backs
            store.remove(f"{folder}/{stale}")
    return out


def chunks_in_order(units: Iterable[str]) -> bool:
    """Whether units in this order visit each chunk once (then write_rollups can stream them)."""
    seen: set[str] = set()
    current = None
    for unit in units:
        name = chunk_name(unit)
        if name != current:
            if name in seen:
                return False
            seen.add(name)
            current = name
    return True


def _chunks(ledger: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(chunk name, its entries in unit order) per chunk, holding one chunk at a time. A list is
    ordered here; an iterator must visit each chunk once (chunks_in_order), else ValueError."""
    if isinstance(ledger, list):
        ledger = sorted(ledger, key=lambda e: (chunk_name(e["unit"]), e["unit"]))
    seen: set[str] = set()
    current: str | None = None
    held: list[dict[str, Any]] = []
    for entry in ledger:
        name = chunk_name(entry["unit"])
        if name == current:
            held.append(entry)
            continue
        if name in seen:
            raise ValueError(f"roll-up chunk {name} visited twice: pass the ledger as a list")
        if current is not None:
            yield current, held
        seen.add(name)
        current, held = name, [entry]
    if current is not None:
        yield current, held
def read_rollup(store: OutputStore, kind: str, columns: list[str]) -> Iterator[pa.Table]:
    """`columns` of a roll-up, one chunk file at a time (up to UNITS_PER_CHUNK units' rows): the
    cheap way to aggregate over every committed unit right after `write_rollups`."""
    folder = f"{ROLLUP_DIR}/{kind}"
    for name in store.list(folder, ".parquet"):
        with store.fs.open(store.path(f"{folder}/{name}"), "rb") as f:
            yield pq.read_table(f, columns=columns)


def _signature(kind: str, entries: list[dict[str, Any]]) -> bytes:
    body = json.dumps([[e["unit"], e["files"][kind]["sha256"]] for e in entries])
    return hashlib.sha256(body.encode()).hexdigest().encode()


def _current_rows(store: OutputStore, rel: str, signature: bytes) -> int | None:
    """The rows of an existing chunk file that already holds exactly these units, else None."""
    try:
        with store.fs.open(store.path(rel), "rb") as f:
            meta = pq.read_metadata(f)
    except (OSError, pa.ArrowInvalid):
        return None
    found = (meta.metadata or {}).get(SIGNATURE_KEY)
    return meta.num_rows if found == signature else None


def _tables(store: OutputStore, kind: str, entries: list[dict[str, Any]]) -> Iterator[pa.Table]:
    return (read_arrow(data) for data in read_ahead(store, (e["files"][kind]["path"] for e in entries)))


def _write_chunk(store: OutputStore, rel: str, schema: pa.Schema, signature: bytes, tables: Iterator[pa.Table]) -> int:
    schema = schema.with_metadata({SIGNATURE_KEY: signature})
    rows = 0
    with store.open_write(rel) as f, pq.ParquetWriter(f, schema, compression="zstd") as writer:
        for table in tables:
            if table.num_rows:
                writer.write_table(table.cast(schema))
                rows += table.num_rows
        if not rows:
            writer.write_table(schema.empty_table())
    return rows
