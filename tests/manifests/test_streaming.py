"""Reading a finished dataset one unit at a time: what digest, summary, audit, previews, eval
prompts and exports compute without the whole manifest in memory equals what the whole-table
computation gives, and the digest's definition (FORMAT.md) holds."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from tests.audit.worlds import small_dataset
from tests.manifests.test_format import token_seq, write_unit
from uvd_pipeline.manifests import Dataset, dataset_digest, open_dataset
from uvd_pipeline.types import TokenSequence


def reference_digest(ds: Dataset) -> str:
    """FORMAT.md's definition, from the whole manifest."""
    m = ds.manifest
    total = 0
    for sid, shard, off, n in zip(*(m[c].to_pylist() for c in ("sequence_id", "shard", "offset", "n_tokens"))):
        tokens = np.asarray(ds.shard(shard)[off : off + n], "<u2")
        h = hashlib.sha256(sid.encode() + b"\0" + n.to_bytes(8, "little") + tokens.tobytes()).digest()
        total = (total + int.from_bytes(h, "big")) % 2**256
    body = b"uvd digest 2\0" + m.num_rows.to_bytes(8, "little") + total.to_bytes(32, "big")
    return hashlib.sha256(body).hexdigest()


def test_digest_follows_its_definition_and_ignores_unit_split_and_commit_order(tmp_path):
    seqs = [token_seq(i, 1 + i % 3, i) for i in range(6)]
    write_unit(tmp_path / "one", "u-000000", seqs)
    # The same sequences split over two units, the later unit committed first.
    write_unit(tmp_path / "two", "u-000001", [TokenSequence(**{**s.__dict__, "index": k}) for k, s in enumerate(seqs[3:])])
    write_unit(tmp_path / "two", "u-000000", seqs[:3])
    one, two = open_dataset(str(tmp_path / "one")), open_dataset(str(tmp_path / "two"))
    assert dataset_digest(one) == dataset_digest(two) == reference_digest(one)


def test_digest_changes_with_a_token_a_missing_sequence_or_a_duplicate(tmp_path):
    seqs = [token_seq(i, 1, i) for i in range(4)]
    write_unit(tmp_path / "base", "u-000000", seqs)
    base = dataset_digest(open_dataset(str(tmp_path / "base")))
    flipped = [*seqs[:3], TokenSequence(**{**seqs[3].__dict__, "tokens": seqs[3].tokens ^ np.uint16(1)})]
    write_unit(tmp_path / "flip", "u-000000", flipped)
    write_unit(tmp_path / "fewer", "u-000000", seqs[:3])
    # The same sequence twice (two units repeating it) must not cancel out, as it would under XOR.
    write_unit(tmp_path / "twice", "u-000000", seqs[:2])
    write_unit(tmp_path / "twice", "u-000001", [TokenSequence(**{**s.__dict__, "index": k}) for k, s in enumerate(seqs[:2])])
    write_unit(tmp_path / "none", "u-000000", [])
    digests = {name: dataset_digest(open_dataset(str(tmp_path / name))) for name in ("flip", "fewer", "twice", "none")}
    assert len({base, *digests.values()}) == 5, digests


def test_iter_units_walks_every_unit_in_unit_order_with_its_own_tokens(tmp_path):
    for k in (2, 0, 1):
        write_unit(tmp_path, f"u-{k:06d}", [token_seq(0, 1, 10 + k), token_seq(1, 2, 20 + k)])
    ds = open_dataset(str(tmp_path))
    walked = list(ds.iter_units())
    assert [e["unit"] for e, _, _ in walked] == ["u-000000", "u-000001", "u-000002"]
    for entry, manifest, tokens in walked:
        assert isinstance(manifest, pa.Table) and tokens.size == entry["counts"]["tokens"] == 3 * 256
        for row in manifest.to_pylist():
            want = tokens[row["offset"] : row["offset"] + row["n_tokens"]]
            assert np.array_equal(ds.tokens(row["sequence_id"]), want)  # found by scanning
            assert np.array_equal(ds.tokens(row["sequence_id"], row["unit"]), want)  # one manifest read
    with pytest.raises(KeyError, match="seq0010.*in unit u-000001"):
        ds.tokens("seq0010", "u-000001")  # it lives in u-000000
    found = ds.tokens_of(["seq0010", "seq0022", "nope"])
    assert sorted(found) == ["seq0010", "seq0022"]


def test_a_corrupt_manifest_names_its_file_and_unit(tmp_path):
    from uvd_pipeline.errors import DatasetError

    entry, _ = write_unit(tmp_path)
    (tmp_path / entry["files"]["manifest"]["path"]).write_bytes(b"not arrow")
    with pytest.raises(DatasetError, match=r"manifest of unit src-000000.*uvd verify"):
        list(open_dataset(str(tmp_path)).iter_tables("manifest"))


def test_readers_of_a_finished_dataset_never_load_the_whole_manifest(tmp_path_factory, tmp_path, monkeypatch):
    from uvd_pipeline.audit.report import build_report
    from uvd_pipeline.exports.lvm_jsonl import export_lvm_jsonl, read_lvm_jsonl
    from uvd_pipeline.exports.megatron import export_megatron, read_megatron
    from uvd_pipeline.exports.previews import choose_preview_rows

    out = str(small_dataset(tmp_path_factory))
    ds = Dataset(out)
    m = ds.manifest  # the whole-table answers, before the streaming paths are checked
    want_digest = reference_digest(ds)
    train = sorted((r for r in m.to_pylist() if r["split"] == "train"), key=lambda r: (r["unit"], r["index"]))
    want_tokens = [np.asarray(ds.tokens(r["sequence_id"])) for r in train]
    by_task: dict[str, list] = {}
    for r in m.to_pylist():
        by_task.setdefault(r["task"], []).append(r["sequence_id"])

    class Refuse:
        def __get__(self, obj, cls):
            raise AssertionError("loaded the whole manifest")

    monkeypatch.setattr(Dataset, "manifest", Refuse())

    assert dataset_digest(Dataset(out)) == want_digest
    report = build_report(out, targets="uvdv1")
    assert report.totals.sequences == m.num_rows and report.totals.tokens == sum(m["n_tokens"].to_pylist())
    test = sum(s == "test" for s in m["split"].to_pylist())
    assert {r.key: r.sequences for r in report.groups["split"]} == {"test": test, "train": m.num_rows - test}
    export_lvm_jsonl(out, str(tmp_path / "train.jsonl"))
    assert all(np.array_equal(a, b) for a, b in zip(read_lvm_jsonl(str(tmp_path / "train.jsonl")), want_tokens, strict=True))
    export_megatron(out, str(tmp_path / "train"))
    assert all(np.array_equal(a, b) for a, b in zip(read_megatron(str(tmp_path / "train")), want_tokens, strict=True))
    chosen = choose_preview_rows(Dataset(out), per_task=2)
    from uvd_pipeline.ids import unit_fraction

    for task, ids in by_task.items():
        best = sorted(ids, key=lambda s: (unit_fraction("preview", s), s))[:2]
        assert [r["sequence_id"] for r in chosen if r["task"] == task] == best
