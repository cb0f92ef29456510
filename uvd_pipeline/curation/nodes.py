"""Signature rows -> graph nodes. A node is one record of one unit; a record has one row per
position (1 for an image, up to 3 frame slots for a video). Each node gets:

- `node`: a 64-bit id, (unit index << 32) | (index of the record among the unit's records in
  sorted order). Units are numbered in sorted name order, so comparing node ids compares
  (unit, record) exactly as strings compare;
- its keep key (rank, kh, kl, node): kh/kl are the 128 bits of the image id (32 lowercase hex
  chars) at its first position, whose numeric order is the ids' string order. Comparing keep keys
  as integers is therefore exactly the contract's rule (rank, image_id, unit, record);
- its hash and image id at each of the MAX_POSITIONS slots, and the mask of slots present;
- for the band rows only (never written to node partitions): the window hashes and the tint of
  its first row (curation/views.py); a signature table without those columns gives no windows
  and tint 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UvdError
from ..manifests.store import OutputStore
from .views import WINDOWS

U64 = np.uint64
MAX_POSITIONS = 3
ID_CHARS = 32
_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_SHIFTS = (U64(4) * np.arange(15, -1, -1, dtype=U64)).astype(U64)


def read_arrow(store: OutputStore, path: str) -> pa.Table:
    data = store.read_bytes(path)
    try:
        with pa.ipc.open_file(pa.BufferReader(data)) as reader:
            return reader.read_all()
    except pa.ArrowInvalid:
        with pa.ipc.open_stream(pa.BufferReader(data)) as reader:
            return reader.read_all()


def hex_ids(ids: pa.Array, path: str) -> tuple[np.ndarray, np.ndarray]:
    """128-bit image ids (32 lowercase hex chars) as (high, low) uint64 halves."""
    ids = pc.cast(ids, pa.large_string()).combine_chunks() if isinstance(ids, pa.ChunkedArray) else pc.cast(ids, pa.large_string())
    n = len(ids)
    if ids.null_count or (n and pc.any(pc.not_equal(pc.utf8_length(ids), ID_CHARS)).as_py()):
        raise UvdError(f"{path}: column image_id must hold {ID_CHARS}-character hex ids, without nulls")
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset : ids.offset + n + 1]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8) if n else np.zeros(0, np.uint8)
    chars = data[offsets[0] : offsets[0] + ID_CHARS * n].reshape(n, ID_CHARS)
    nibbles = _HEX[chars]
    if (nibbles == 255).any():
        bad = int(np.flatnonzero((nibbles == 255).any(axis=1))[0])
        raise UvdError(f"{path}: column image_id row {bad}: {ids[bad].as_py()!r} is not lowercase hex")
    nib = nibbles.astype(U64)
    hi = np.bitwise_or.reduce(nib[:, :16] << _SHIFTS, axis=1) if n else np.zeros(0, U64)
    lo = np.bitwise_or.reduce(nib[:, 16:] << _SHIFTS, axis=1) if n else np.zeros(0, U64)
    return hi.astype(U64), lo.astype(U64)


def id_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """The inverse of hex_ids (for the decision tables)."""
    return pa.array([f"{a:016x}{b:016x}" for a, b in zip(hi.tolist(), lo.tolist())], type=pa.string())


def signature_nodes(table: pa.Table, path: str, unit_index: int, rank: int, is_eval: bool) -> dict[str, np.ndarray | pa.Array]:
    """The nodes of one unit's signature table, in record order (columns as described above)."""
    for name in ("record", "image_id", "position", "phash"):
        if name not in table.column_names:
            raise UvdError(f"{path}: signature table has no column {name!r}")
    optional = [c for c in ("views", "tint") if c in table.column_names]
    table = table.select(["record", "image_id", "position", "phash", *optional]).sort_by(
        [("record", "ascending"), ("position", "ascending")])
    n = table.num_rows
    if table.column("record").null_count or table.column("position").null_count or table.column("phash").null_count:
        raise UvdError(f"{path}: columns record, position and phash must not hold nulls")
    position = table.column("position").to_numpy().astype(np.int64)
    if n and (position.min() < 0 or position.max() >= MAX_POSITIONS):
        raise UvdError(f"{path}: column position must be within 0..{MAX_POSITIONS - 1}")
    encoded = pc.dictionary_encode(table.column("record")).combine_chunks()
    code = encoded.indices.to_numpy().astype(np.int64)  # first-appearance order == sorted order
    records = encoded.dictionary
    if len(records) >= 2**32:
        raise UvdError(f"{path}: more than 2**32 records in one unit")
    if n > 1 and ((code[1:] == code[:-1]) & (position[1:] == position[:-1])).any():
        raise UvdError(f"{path}: a record has two rows at the same position")
    phash = table.column("phash").to_numpy().astype(U64) if n else np.zeros(0, U64)
    hi, lo = hex_ids(table.column("image_id"), path)
    k = len(records)
    mask = np.zeros(k, dtype=np.uint8)
    np.bitwise_or.at(mask, code, (1 << position).astype(np.uint8))
    first = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if n else np.zeros(0, np.int64)
    out: dict[str, np.ndarray | pa.Array] = {
        "node": (U64(unit_index) << U64(32)) | np.arange(k, dtype=U64),
        "rank": np.full(k, rank, dtype=np.uint16),
        "is_eval": np.full(k, bool(is_eval)),
        "mask": mask,
        "kh": hi[first],
        "kl": lo[first],
        "hmin": phash[first],
        "views": _first_views(table, first, path),
        "tint": table.column("tint").to_numpy()[first].astype(np.uint16) if "tint" in optional else np.zeros(k, np.uint16),
    }
    for slot in range(MAX_POSITIONS):
        rows = position == slot
        for name, values in ((f"h{slot}", phash), (f"ih{slot}", hi), (f"il{slot}", lo)):
            col = np.zeros(k, dtype=U64)
            col[code[rows]] = values[rows]
            out[name] = col
    out["record"] = records.cast(pa.string())
    return out


def _first_views(table: pa.Table, first: np.ndarray, path: str) -> np.ndarray:
    """The window hashes of each record's first row, (records, windows) uint64."""
    if "views" not in table.column_names:
        return np.zeros((len(first), 0), U64)
    views = table.column("views").combine_chunks()
    if views.null_count or (len(views) and pc.any(pc.not_equal(pc.list_value_length(views), WINDOWS)).as_py()):
        raise UvdError(f"{path}: column views must hold {WINDOWS} window hashes in every row")
    flat = pc.list_flatten(views).to_numpy(zero_copy_only=False).astype(U64)
    return flat.reshape(len(views), WINDOWS)[first] if len(views) else np.zeros((0, WINDOWS), U64)


def concat_nodes(parts: list[dict[str, np.ndarray | pa.Array]]) -> dict[str, np.ndarray | pa.Array]:
    if not parts:
        return {}
    out: dict[str, np.ndarray | pa.Array] = {}
    widths = {p["views"].shape[1] for p in parts}
    if len(widths) > 1:  # tables with and without windows: a record without them repeats its hash
        parts = [p if p["views"].shape[1] else {**p, "views": np.repeat(p["hmin"][:, None], WINDOWS, axis=1)} for p in parts]
    for name in parts[0]:
        values = [p[name] for p in parts]
        out[name] = pa.concat_arrays(values) if isinstance(values[0], pa.Array) else np.concatenate(values)
    return out


def is_multi(mask: np.ndarray) -> np.ndarray:
    """Nodes with more than one position (video records)."""
    return np.bitwise_count(mask) > 1
