"""Curation's committed files, written like shards (FORMAT.md, "Curation"):

    curation/signatures/<unit>-<sha16>.arrow   a unit's signature rows (content-addressed)
    curation/ledger/<unit>.json                 its commit point: identity, file, counts, checksum
    curation/decisions/<unit>-<sha16>.arrow     a training unit's dropped records, with reasons
    curation/decisions.json                     the commit point of the cluster pass

A signature entry carries the identity of what produced it (source, unit payload, filters' score
settings, code), so a rerun skips units whose entry matches and redoes the others; thresholds are
not part of it, so new thresholds reuse the stored scores.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from .. import CODE_VERSION
from ..ids import hash_hex
from ..manifests.reader import read_arrow
from ..manifests.store import OutputStore, content_name
from ..manifests.writer import arrow_bytes, json_text

CURATION_DIR = "curation"
SIGNATURES_DIR = f"{CURATION_DIR}/signatures"
LEDGER_DIR = f"{CURATION_DIR}/ledger"
DECISIONS_DIR = f"{CURATION_DIR}/decisions"
DECISIONS_FILE = f"{CURATION_DIR}/decisions.json"
EXCHANGE_DIR = f"{CURATION_DIR}/exchange"

DROP_SCHEMA = pa.schema(  # a committed decision file: the records a unit drops
    [
        pa.field("record", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        # the kept twin or the evaluation record (cluster verdicts; null for `filtered`)
        pa.field("twin_source", pa.string()),
        pa.field("twin_unit", pa.string()),
        pa.field("twin_record", pa.string()),
        pa.field("distance", pa.int16()),
        pa.field("cluster_size", pa.int64()),
    ]
)


def entry_checksum(entry: dict[str, Any]) -> str:
    return hash_hex("curation", {k: v for k, v in entry.items() if k != "checksum"})


def commit_signatures(
    store: OutputStore, unit: str, source: str, role: str, identity: str, table: pa.Table, records_read: int
) -> dict[str, Any]:
    """Write a unit's signature table, then its ledger entry (the commit point); the entry."""
    data = arrow_bytes(table)
    name, sha = content_name(unit, data, ".arrow")
    path = f"{SIGNATURES_DIR}/{name}"
    entry: dict[str, Any] = {
        "unit": unit,
        "source": source,
        "role": role,  # "train" (a recipe source) or "eval" (an evaluation set)
        "identity": identity,
        "code_version": CODE_VERSION,
        "file": {"path": path, "sha256": sha, "bytes": len(data)},
        "counts": {"records_read": records_read, "rows": table.num_rows,
                   "records": len(set(table.column("record").to_pylist()))},
    }
    entry["checksum"] = entry_checksum(entry)
    store.makedirs(SIGNATURES_DIR)
    store.makedirs(LEDGER_DIR)
    store.write_bytes(path, data)
    store.write_text(f"{LEDGER_DIR}/{unit}.json", json_text(entry))
    return entry


def read_entry(store: OutputStore, unit: str) -> dict[str, Any] | None:
    """A unit's committed signature entry, or None when it has none (or an unreadable one)."""
    return _read_committed(store, f"{LEDGER_DIR}/{unit}.json")


def _read_committed(store: OutputStore, rel: str) -> dict[str, Any] | None:
    """A committed JSON entry whose checksum holds, or None (absent, unreadable or altered)."""
    if not store.exists(rel):
        return None
    try:
        entry = json.loads(store.read_text(rel))
    except (ValueError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) and entry.get("checksum") == entry_checksum(entry) else None


def read_checked(store: OutputStore, info: dict[str, Any]) -> pa.Table:
    """An Arrow file a committed entry names, after checking its sha256."""
    data = store.read_bytes(info["path"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(f"{store.path(info['path'])}: sha256 does not match its curation entry (file altered)")
    return read_arrow(data)


def commit_decisions(store: OutputStore, identity: str, files: dict[str, dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    """Write decisions.json, the cluster pass's commit point, over the units' decision files
    (already written by their tasks under content-addressed names)."""
    summary: dict[str, Any] = {"identity": identity, "code_version": CODE_VERSION,
                               "units": {u: files[u] for u in sorted(files)}, "stats": stats}
    summary["checksum"] = entry_checksum(summary)
    store.makedirs(CURATION_DIR)
    store.write_text(DECISIONS_FILE, json_text(summary))
    return summary


def read_decisions_summary(store: OutputStore) -> dict[str, Any] | None:
    """decisions.json when the cluster pass committed it (and its checksum holds), else None."""
    return _read_committed(store, DECISIONS_FILE)
