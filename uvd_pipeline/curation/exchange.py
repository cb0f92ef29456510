"""The cluster pass's exchange: hash partitions written as Arrow IPC files under a scratch folder
of the output store. Every file is written whole or not at all (store.write_bytes), its name is
fixed by (stage, destination partition, producing task), and a task marks itself done only after
all its files are written, so a task rerun after a kill rewrites the same bytes and a finished
task is skipped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from ..manifests.store import OutputStore

U64 = np.uint64
_PLAIN = pa.ipc.IpcWriteOptions()
_LZ4 = pa.ipc.IpcWriteOptions(compression="lz4")  # for tables with strings; hashes do not compress


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash of 64-bit integers."""
    x = np.asarray(x, dtype=U64).copy()
    x ^= x >> U64(30)
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


def partition_of(values: np.ndarray, parts: int) -> np.ndarray:
    return (mix64(values) % U64(parts)).astype(np.int64)


class Scratch:
    """Paths and files of one cluster pass under `root` (relative to the store)."""

    def __init__(self, store: OutputStore, root: str) -> None:
        self.store = store
        self.root = root.rstrip("/")
        self._made: set[str] = set()
        self.bytes_written = 0

    def rel(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def write_table(self, rel: str, table: pa.Table, compress: bool = False) -> int:
        """Stream the table into a file that readers see whole or not at all (store.open_write)."""
        self._parent(rel)
        with self.store.open_write(rel) as f:
            with pa.ipc.new_file(f, table.schema, options=_LZ4 if compress else _PLAIN) as writer:
                writer.write_table(table)
            size = f.tell()
        self.bytes_written += size
        return size

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._parent(rel)
        self.store.write_bytes(rel, data)
        self.bytes_written += len(data)

    def _parent(self, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        if parent not in self._made:
            self.store.makedirs(parent)
            self._made.add(parent)

    def read_table(self, rel: str) -> pa.Table:
        with pa.ipc.open_file(pa.BufferReader(self.store.read_bytes(rel))) as reader:
            return reader.read_all()

    def read_folder(self, rel: str, prefix: str = "") -> list[pa.Table]:
        """Every finished file of a folder, in name order (the same order on every run)."""
        return [self.read_table(f"{rel}/{name}") for name in self.store.list(rel, ".arrow") if name.startswith(prefix)]

    def done(self, rel: str) -> dict[str, Any] | None:
        path = rel + ".done.json"
        return json.loads(self.store.read_text(path)) if self.store.exists(path) else None

    def mark_done(self, rel: str, result: dict[str, Any]) -> None:
        self.write_bytes(rel + ".done.json", json.dumps(result, sort_keys=True).encode())

    def write_partitioned(
        self, folder: str, name: str, parts: np.ndarray, n_parts: int, columns: dict[str, np.ndarray | pa.Array],
        compress: bool = False,
    ) -> int:
        """Rows to `<folder>/p-XXXXX/<name>.arrow` by their partition number (empty ones skipped),
        in their input order within a partition."""
        if not len(parts):
            return 0
        small = np.uint16 if n_parts <= 2**16 else np.uint32
        order = np.argsort(parts.astype(small), kind="stable")  # a radix sort for 16-bit keys
        bounds = np.searchsorted(parts[order], np.arange(n_parts + 1))
        table = pa.table({k: _take(v, order) for k, v in columns.items()})
        written = 0
        for p in np.flatnonzero(np.diff(bounds)):
            piece = table.slice(int(bounds[p]), int(bounds[p + 1] - bounds[p]))
            written += self.write_table(f"{folder}/p-{p:05d}/{name}.arrow", piece, compress)
        return written


def _take(values: np.ndarray | pa.Array, order: np.ndarray) -> np.ndarray | pa.Array:
    return values.take(pa.array(order)) if isinstance(values, (pa.Array, pa.ChunkedArray)) else values[order]


def column(tables: list[pa.Table], name: str, dtype: Any, default: int = 0) -> np.ndarray:
    """One column of several tables as one numpy array; tables without it give `default`."""
    parts = [
        t.column(name).to_numpy() if name in t.column_names else np.full(t.num_rows, default, dtype=dtype)
        for t in tables
    ]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def run_once(scratch: Scratch, marker: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a task's work unless its marker says it finished; the marker keeps its result, so a
    rerun reports the same figures."""
    previous = scratch.done(marker)
    if previous is not None:
        return previous
    result = work()
    result["bytes_written"] = scratch.bytes_written
    scratch.mark_done(marker, result)
    return result


def load_plan(scratch: Scratch) -> dict[str, Any]:
    return json.loads(scratch.store.read_text(scratch.rel("plan.json")))


def load_units(scratch: Scratch) -> pa.Table:
    """unit, source, rank, is_eval, path: one row per signature table, in unit-name order."""
    return scratch.read_table(scratch.rel("units.arrow"))
