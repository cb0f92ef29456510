"""Megatron-LM's indexed dataset (`PREFIX.bin` + `PREFIX.idx`), tokens as uint16, one document
per sequence, written from the layout megatron-core's `indexed_dataset.py` reads (MMIDIDX v1):

  .idx: 9-byte magic b"MMIDIDX\\x00\\x00", version <Q = 1, dtype code <B (8 = uint16),
        sequence count <Q, document count <Q (= sequences + 1), then
        int32[sequences] lengths (in tokens), int64[sequences] byte offsets into .bin,
        int64[sequences + 1] document indices (0, 1, ..., sequences: each sequence ends a document)
  .bin: the tokens of every sequence back to back.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import fsspec
import numpy as np

from ..manifests.reader import Dataset
from .common import ExportSummary, OnUnit, check_special, iter_export, with_specials

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
UINT16 = np.dtype(np.uint16)


def export_megatron(
    root: str, prefix: str, split: str = "train", bos: int | None = None, eos: int | None = None, repeat: bool = True,
    on_unit: OnUnit | None = None, check_hashes: bool = True,
) -> ExportSummary:
    """Write `prefix`.bin and `prefix`.idx for the sequences of `split`."""
    check_special(bos, eos, max_id=np.iinfo(np.uint16).max)
    ds = Dataset(root, check_hashes=check_hashes)
    bin_path, idx_path = f"{prefix}.bin", f"{prefix}.idx"
    summary = ExportSummary(prefix, files=[bin_path, idx_path])
    lengths: list[int] = []
    with fsspec.open(bin_path, "wb") as f:
        for row, tokens in iter_export(ds, split, repeat, on_unit):
            seq = with_specials(tokens, bos, eos, UINT16)
            f.write(seq.tobytes())
            lengths.append(int(seq.size))
            summary.by_source[row["source"]] = summary.by_source.get(row["source"], 0) + 1
    write_index(idx_path, np.asarray(lengths, np.int32), UINT16)
    summary.sequences = len(lengths)
    summary.tokens = int(sum(lengths))
    return summary


def write_index(idx_path: str, lengths: np.ndarray, dtype: np.dtype) -> None:
    n = int(lengths.size)
    pointers = np.zeros(n, np.int64)
    if n:
        np.cumsum(lengths[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    documents = np.arange(n + 1, dtype=np.int64)
    with fsspec.open(idx_path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", VERSION))
        f.write(struct.pack("<B", DTYPE_CODES[dtype]))
        f.write(struct.pack("<Q", n))
        f.write(struct.pack("<Q", documents.size))
        f.write(lengths.astype("<i4").tobytes())
        f.write(pointers.astype("<i8").tobytes())
        f.write(documents.astype("<i8").tobytes())


def read_megatron(prefix: str) -> Iterator[np.ndarray]:
    """Every sequence's tokens, read back with numpy alone (checks the header as it goes)."""
    with fsspec.open(f"{prefix}.idx", "rb") as f:
        data = f.read()
    if data[:9] != MAGIC:
        raise ValueError(f"{prefix}.idx: not a Megatron index (magic {data[:9]!r})")
    version, code, n, n_docs = struct.unpack_from("<QBQQ", data, 9)
    if version != VERSION or code not in DTYPE_CODES.values():
        raise ValueError(f"{prefix}.idx: version {version}, dtype code {code} not supported")
    dtype = next(dt for dt, c in DTYPE_CODES.items() if c == code)
    off = 9 + struct.calcsize("<QBQQ")
    lengths = np.frombuffer(data, "<i4", n, off)
    pointers = np.frombuffer(data, "<i8", n, off + 4 * n)
    with fsspec.open(f"{prefix}.bin", "rb") as f:
        tokens = f.read()
    for length, pointer in zip(lengths, pointers):
        yield np.frombuffer(tokens, dtype, int(length), int(pointer))
