"""LVM JSONL: one sequence a line, {"tokens": base64(int32 little-endian)}."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from tests.audit.worlds import small_dataset
from uvd_pipeline.exports import export_lvm_jsonl, read_lvm_jsonl
from uvd_pipeline.exports.common import selected_rows
from uvd_pipeline.manifests import Dataset


def test_jsonl_decodes_back_to_the_same_tokens(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)
    ds = Dataset(str(out))
    path = tmp_path / "all.jsonl"
    summary = export_lvm_jsonl(str(out), str(path), split="all")
    rows = selected_rows(ds, "all")
    assert summary.sequences == len(rows) == ds.manifest.num_rows
    lines = path.read_text().splitlines()
    assert len(lines) == len(rows)
    first = json.loads(lines[0])
    assert list(first) == ["tokens"]
    raw = base64.b64decode(first["tokens"])
    assert np.array_equal(np.frombuffer(raw, "<i4"), ds.tokens(rows[0]["sequence_id"]).astype(np.int32))
    for row, tokens in zip(rows, read_lvm_jsonl(str(path))):
        assert tokens.dtype == np.dtype("<i4")
        assert np.array_equal(tokens, ds.tokens(row["sequence_id"]))


def test_bos_eos_split_and_gzip(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)
    ds = Dataset(str(out))
    path = tmp_path / "train.jsonl.gz"
    summary = export_lvm_jsonl(str(out), str(path), split="train", bos=8192, eos=8193)
    train = selected_rows(ds, "train")
    got = list(read_lvm_jsonl(str(path)))
    assert summary.sequences == len(got) == len(train) < ds.manifest.num_rows
    for row, tokens in zip(train, got):
        assert tokens[0] == 8192 and tokens[-1] == 8193
        assert np.array_equal(tokens[1:-1], ds.tokens(row["sequence_id"]))
    assert summary.tokens == sum(r["n_tokens"] + 2 for r in train)
    with pytest.raises(ValueError, match="--bos 5"):
        export_lvm_jsonl(str(out), str(tmp_path / "x.jsonl"), bos=5)
