"""Commit one unit: token shard, manifest and rejects under content-addressed names, then the
ledger entry (the commit point). A crash before the ledger entry leaves nothing a reader sees."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pyarrow as pa

from .. import CODE_VERSION
from ..ids import canonical_json, hash_hex
from ..types import Reject, TokenSequence, WorkUnit
from .schema import (
    FORMAT_VERSION,
    LEDGER_DIR,
    MANIFEST_SCHEMA,
    MANIFESTS_DIR,
    REJECTS_DIR,
    REJECTS_SCHEMA,
    SCORES_COLUMN,
    SHARDS_DIR,
    manifest_schema,
)
from .store import OutputStore, content_name


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# Arrow IPC buffer compression of the manifests and rejects (FORMAT.md): zstd at this level. Every
# Arrow reader (pyarrow, arrow-rs, Arrow JS/Java) decompresses such files transparently; files
# written before (uncompressed) read as they are.
IPC_CODEC = "zstd"
IPC_LEVEL = 9


def arrow_bytes(table: pa.Table, compression: str | None = None, level: int | None = None) -> bytes:
    """An Arrow IPC file of one record batch, uncompressed unless asked (the manifests and rejects
    ask for IPC_CODEC; compression=None is the form written before, and other files' form)."""
    options = pa.ipc.IpcWriteOptions(
        compression=None if compression is None else pa.Codec(compression, compression_level=level)
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=max(table.num_rows, 1))
    return sink.getvalue().to_pybytes()


def ledger_checksum(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "checksum"}
    return hash_hex("ledger", body)


def summary_checksum(summary: dict[str, Any]) -> str:
    """The checksum dataset.json carries (`uvd verify` recomputes it), as a ledger entry does."""
    body = {k: v for k, v in summary.items() if k != "checksum"}
    return hash_hex("dataset", body)


def json_text(value: dict[str, Any]) -> str:
    """The one written form of the ledger entries and dataset.json; verify compares bytes with it."""
    return json.dumps(value, indent=1, sort_keys=True)


def commit_unit(
    store: OutputStore,
    unit: WorkUnit,
    sequences: list[TokenSequence],
    rejects: list[Reject],
    *,
    category: str,
    recipe_fingerprint: str,
    records_read: int,
    records_used: int,
    tokenizer: dict[str, Any] | None = None,
    scores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write and commit a unit; returns its ledger entry. Sequences are stored in index order.
    `scores` ({record: {image_id: filter scores}}) adds the SCORES_COLUMN to the manifest; None
    (a recipe without filters) leaves the manifest as it always was."""
    sequences = sorted(sequences, key=lambda s: s.index)
    tokens = (
        np.concatenate([s.tokens for s in sequences]).astype(np.uint16, copy=False)
        if sequences
        else np.zeros(0, np.uint16)
    )
    shard_data = npy_bytes(tokens)
    shard_name, shard_sha = content_name(unit.id, shard_data, ".npy")
    shard_rel = f"{SHARDS_DIR}/{shard_name}"

    manifest = manifest_table(unit, sequences, shard_rel, category, scores)
    manifest_data = arrow_bytes(manifest, IPC_CODEC, IPC_LEVEL)
    manifest_name, manifest_sha = content_name(unit.id, manifest_data, ".arrow")

    reject_rows = sorted((r.to_row() for r in rejects), key=lambda r: (r["record"], r["reason"], r["detail"]))
    rejects_data = arrow_bytes(pa.Table.from_pylist(reject_rows, schema=REJECTS_SCHEMA), IPC_CODEC, IPC_LEVEL)
    rejects_name, rejects_sha = content_name(unit.id, rejects_data, ".arrow")

    used = {rec for s in sequences for rec in s.records}
    rejected_only = {r.record for r in rejects} - used
    entry: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "unit": unit.id,
        "source": unit.source,
        "category": category,
        "recipe": recipe_fingerprint,
        "code_version": CODE_VERSION,
        "files": {
            "shard": {"path": shard_rel, "sha256": shard_sha, "bytes": len(shard_data)},
            "manifest": {"path": f"{MANIFESTS_DIR}/{manifest_name}", "sha256": manifest_sha, "bytes": len(manifest_data)},
            "rejects": {"path": f"{REJECTS_DIR}/{rejects_name}", "sha256": rejects_sha, "bytes": len(rejects_data)},
        },
        "counts": {
            "sequences": len(sequences),
            "images": int(sum(s.n_images for s in sequences)),
            "tokens": int(tokens.size),
            "records_read": records_read,
            "records_used": records_used,
            "records_rejected": len(rejected_only),
            "reject_rows": len(reject_rows),
        },
    }
    if tokenizer is not None:  # the effective tokenizer the output is pinned to (device, dtype, tf32, torch)
        entry["tokenizer"] = tokenizer
    entry["checksum"] = ledger_checksum(entry)

    store.write_bytes(shard_rel, shard_data)
    store.write_bytes(entry["files"]["manifest"]["path"], manifest_data)
    store.write_bytes(entry["files"]["rejects"]["path"], rejects_data)
    store.write_text(f"{LEDGER_DIR}/{unit.id}.json", json_text(entry))
    return entry


def manifest_table(unit: WorkUnit, sequences: list[TokenSequence], shard_rel: str, category: str,
                   scores: dict[str, Any] | None = None) -> pa.Table:
    """The manifest of a unit's sequences (in the order given), one row per sequence; with `scores`
    ({record: {image_id: filter scores}}), each row also holds its records' scores (SCORES_COLUMN:
    canonical JSON of that mapping restricted to the sequence's records; `{}` when none has any)."""
    offsets = np.cumsum([0] + [len(s.tokens) for s in sequences])[:-1]
    table = pa.Table.from_pylist(
        [
            {
                "sequence_id": s.id,
                "unit": unit.id,
                "index": s.index,
                "shard": shard_rel,
                "offset": int(off),
                "n_tokens": len(s.tokens),
                "n_images": s.n_images,
                "source": unit.source,
                "category": category,
                "task": s.task,
                "split": s.split,
                "image_ids": s.image_ids,
                "records": s.records,
                "provenance": canonical_json(s.provenance),
            }
            for s, off in zip(sequences, offsets)
        ],
        schema=MANIFEST_SCHEMA,
    )
    if scores is None:
        return table
    column = [canonical_json({r: scores[r] for r in s.records if r in scores}) for s in sequences]
    return table.append_column(manifest_schema(True).field(SCORES_COLUMN), pa.array(column, pa.string()))


def prepare_output(store: OutputStore) -> None:
    for d in (SHARDS_DIR, MANIFESTS_DIR, REJECTS_DIR, LEDGER_DIR):
        store.makedirs(d)
