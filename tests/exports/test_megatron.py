"""Megatron indexed dataset (.bin + .idx, uint16): read back by megatron-core's own reader where it
is installed, and always by an independent reader written from the documented layout."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.audit.worlds import small_dataset
from uvd_pipeline.exports import export_megatron, read_megatron
from uvd_pipeline.exports.common import selected_rows
from uvd_pipeline.manifests import Dataset


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    prefix = tmp_path_factory.mktemp("megatron") / "uvd_all"
    summary = export_megatron(str(out), str(prefix), split="all", eos=8193)
    return Dataset(str(out)), prefix, summary


def expected(ds):
    return [np.append(ds.tokens(r["sequence_id"]), 8193).astype(np.uint16) for r in selected_rows(ds, "all")]


def test_layout_read_independently(exported):
    """Parse the .idx field by field as Megatron documents it (MMIDIDX v1)."""
    ds, prefix, summary = exported
    idx = prefix.with_suffix(".idx").read_bytes()
    binary = np.fromfile(prefix.with_suffix(".bin"), dtype="<u2")
    assert idx[:9] == b"MMIDIDX\x00\x00"
    version, = struct.unpack("<Q", idx[9:17])
    dtype_code, = struct.unpack("<B", idx[17:18])
    n, n_docs = struct.unpack("<QQ", idx[18:34])
    assert (version, dtype_code) == (1, 8)  # 8 = uint16
    want = expected(ds)
    assert n == summary.sequences == len(want) and n_docs == n + 1
    lengths = np.frombuffer(idx, "<i4", n, 34)
    pointers = np.frombuffer(idx, "<i8", n, 34 + 4 * n)
    docs = np.frombuffer(idx, "<i8", n + 1, 34 + 12 * n)
    assert len(idx) == 34 + 12 * n + 8 * (n + 1)
    assert docs.tolist() == list(range(n + 1))
    for length, pointer, tokens in zip(lengths, pointers, want):
        start = pointer // 2
        assert np.array_equal(binary[start : start + length], tokens)
    assert [t.tolist() for t in read_megatron(str(prefix))] == [t.tolist() for t in want]


def test_megatron_core_reads_every_sequence_unchanged(exported):
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset", reason="megatron-core not installed")
    ds, prefix, _ = exported
    reader = indexed.IndexedDataset(str(prefix), mmap=True)
    want = expected(ds)
    assert len(reader) == len(want)
    assert reader.index.dtype == np.uint16
    assert len(reader.document_indices) == len(want) + 1
    for i, tokens in enumerate(want):
        assert np.array_equal(reader[i], tokens)
        assert np.array_equal(reader.get(i, offset=1, length=3), tokens[1:4])
