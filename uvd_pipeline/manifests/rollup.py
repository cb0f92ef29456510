"""Parquet roll-ups of what was committed, for tools that read Parquet but not Arrow IPC files.

`manifest.parquet` and `rejects.parquet` at the output root hold the rows of every committed
unit's manifest and rejects, unit by unit in ledger order, with the format's schemas. They are
derived files: rewritten at the end of every `uvd run` from the ledger (so orphan files of an
interrupted unit never enter them), streamed one unit at a time (memory holds one unit's rows),
and replaced whole (a temporary name renamed on local disks, an upload that appears only when
complete on object stores). DuckDB, pandas, polars and Hugging Face `datasets` read them as is.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .reader import read_arrow
from .schema import MANIFEST_SCHEMA, REJECTS_SCHEMA
from .store import OutputStore

MANIFEST_ROLLUP = "manifest.parquet"
REJECTS_ROLLUP = "rejects.parquet"
_KINDS = ((MANIFEST_ROLLUP, "manifest", MANIFEST_SCHEMA), (REJECTS_ROLLUP, "rejects", REJECTS_SCHEMA))


def write_rollups(store: OutputStore, ledger: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Write both roll-ups from the committed units in `ledger`; returns rows and units of each."""
    entries = sorted(ledger, key=lambda e: e["unit"])
    written: dict[str, dict[str, int]] = {}
    for name, kind, schema in _KINDS:
        rows = 0
        with store.open_write(name) as f, pq.ParquetWriter(f, schema, compression="zstd") as writer:
            for entry in entries:
                table = read_arrow(store.read_bytes(entry["files"][kind]["path"]))
                if table.num_rows:
                    writer.write_table(table.cast(schema))
                    rows += table.num_rows
            if not rows:
                writer.write_table(pa.Table.from_pylist([], schema=schema))
        written[name] = {"rows": rows, "units": len(entries)}
    return written
