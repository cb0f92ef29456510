"""Read what was committed: only files that a ledger entry names are ever opened."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DatasetError
from .schema import DATASET_FILE, LEDGER_DIR, MANIFEST_SCHEMA, RECIPE_FILE, REJECTS_SCHEMA
from .store import OutputStore


def read_arrow(data: bytes) -> pa.Table:
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()


class Dataset:
    """A committed output directory: manifest table, token access, rejects, ledger."""

    def __init__(self, root: str) -> None:
        self.store = OutputStore(root)
        # Object stores have no empty folders: before its first commit, an output is known by
        # the resolved recipe that `uvd run` writes first.
        if not self.store.exists(LEDGER_DIR) and not self.store.exists(RECIPE_FILE):
            raise DatasetError(f"{root}: not a uvd output directory (no {LEDGER_DIR}/ nor {RECIPE_FILE})")
        self._shards: dict[str, np.ndarray] = {}

    @cached_property
    def ledger(self) -> list[dict[str, Any]]:
        entries = []
        for name in self.store.list(LEDGER_DIR, ".json"):
            rel = f"{LEDGER_DIR}/{name}"
            try:
                entries.append(json.loads(self.store.read_text(rel)))
            except ValueError as exc:
                raise DatasetError(f"{self.store.path(rel)}: ledger entry is not valid JSON ({exc})") from None
        return entries

    @cached_property
    def manifest(self) -> pa.Table:
        tables = [read_arrow(self.store.read_bytes(e["files"]["manifest"]["path"])) for e in self.ledger]
        return pa.concat_tables(tables) if tables else MANIFEST_SCHEMA.empty_table()

    def rejects(self) -> pa.Table:
        tables = [read_arrow(self.store.read_bytes(e["files"]["rejects"]["path"])) for e in self.ledger]
        return pa.concat_tables(tables) if tables else REJECTS_SCHEMA.empty_table()

    @cached_property
    def _index(self) -> dict[str, tuple[str, int, int]]:
        m = self.manifest
        return {
            sid: (shard, off, n)
            for sid, shard, off, n in zip(
                m["sequence_id"].to_pylist(), m["shard"].to_pylist(), m["offset"].to_pylist(), m["n_tokens"].to_pylist()
            )
        }

    def shard(self, rel: str) -> np.ndarray:
        """A token shard as a uint16 array: memory-mapped on local disks, read whole elsewhere."""
        if rel not in self._shards:
            local = self.store.local_path(rel)
            if local is not None:
                arr = np.load(local, mmap_mode="r", allow_pickle=False)
            else:
                arr = np.load(io.BytesIO(self.store.read_bytes(rel)), allow_pickle=False)
            if arr.dtype != np.uint16 or arr.ndim != 1:
                raise DatasetError(f"{self.store.path(rel)}: expected a 1-D uint16 shard, got {arr.dtype} {arr.shape}")
            self._shards[rel] = arr
        return self._shards[rel]

    def tokens(self, sequence_id: str) -> np.ndarray:
        try:
            shard, off, n = self._index[sequence_id]
        except KeyError:
            raise KeyError(f"no sequence {sequence_id!r} in {self.store.url}") from None
        return self.shard(shard)[off : off + n]

    def iter_sequences(self) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """(manifest row, tokens) for every committed sequence, unit by unit."""
        for row in self.manifest.to_pylist():
            yield row, self.shard(row["shard"])[row["offset"] : row["offset"] + row["n_tokens"]]

    def summary(self) -> dict[str, Any] | None:
        if not self.store.exists(DATASET_FILE):
            return None
        return json.loads(self.store.read_text(DATASET_FILE))


def open_dataset(out_dir: str) -> Dataset:
    return Dataset(out_dir)
