"""`uvd export` and `uvd eval-prompts` as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from tests.audit.worlds import small_dataset
from uvd_pipeline.exports import read_lvm_jsonl, read_megatron
from uvd_pipeline.exports.common import selected_rows
from uvd_pipeline.manifests import Dataset


def uvd(*args, check=True):
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, check=check)


def test_export_both_formats(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)
    ds = Dataset(str(out))
    train = [ds.tokens(r["sequence_id"]) for r in selected_rows(ds, "train")]
    res = uvd("export", str(out), "--format", "lvm-jsonl", "--out", str(tmp_path / "t.jsonl"), "--bos", "8192", "--eos", "8193")
    assert f"{len(train)} sequences" in res.stdout
    got = list(read_lvm_jsonl(str(tmp_path / "t.jsonl")))
    assert all(np.array_equal(g, np.concatenate([[8192], t, [8193]])) for g, t in zip(got, train)) and len(got) == len(train)
    res = uvd("export", str(out), "--format", "megatron", "--out", str(tmp_path / "m"), "--split", "all")
    assert (tmp_path / "m.bin").exists() and (tmp_path / "m.idx").exists()
    assert sum(1 for _ in read_megatron(str(tmp_path / "m"))) == ds.manifest.num_rows
    res = uvd("export", str(out), "--format", "parquet", "--out", str(tmp_path / "x"), check=False)
    assert res.returncode == 2 and "lvm-jsonl" in res.stderr
    res = uvd("export", str(out), "--format", "megatron", "--out", str(tmp_path / "x"), "--split", "val", check=False)
    assert res.returncode == 2 and "split must be one of" in res.stderr


def test_eval_prompts_command_reports_what_it_could_build(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)  # single images only: nothing to prompt with
    res = uvd("eval-prompts", str(out), "--out", str(tmp_path / "p.jsonl"))
    assert "wrote 0 prompts" in res.stdout
    assert (tmp_path / "p.jsonl").read_text() == ""
