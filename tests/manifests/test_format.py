"""The on-disk contract: shards, manifests, rejects, ledger; read back with pyarrow/numpy alone."""

import json

import numpy as np
import pyarrow as pa
import pytest

from uvd_pipeline.manifests import MANIFEST_SCHEMA, OutputStore, commit_unit, dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.manifests.writer import prepare_output
from uvd_pipeline.types import Reject, TokenSequence, WorkUnit


def token_seq(i: int, n_images: int, seed: int) -> TokenSequence:
    rng = np.random.default_rng(seed)
    return TokenSequence(
        id=f"seq{seed:04d}", index=i, task="image", image_ids=[f"img{seed}-{k}" for k in range(n_images)],
        records=[f"file{seed}.jpg"], provenance={"k": seed}, split="train",
        tokens=rng.integers(0, 8192, n_images * 256).astype(np.uint16),
    )


def write_unit(root, uid="src-000000", seqs=None, rejects=None):
    store = OutputStore(str(root))
    prepare_output(store)
    seqs = seqs if seqs is not None else [token_seq(0, 1, 1), token_seq(1, 3, 2)]
    rejects = rejects if rejects is not None else [Reject("bad.jpg", "corrupt_image", "x", "src", uid)]
    entry = commit_unit(store, WorkUnit(uid, "src", 0, {}), seqs, rejects, category="unlabelled_images",
                        recipe_fingerprint="f", records_read=3, records_used=2)
    return entry, seqs


def test_round_trip_and_plain_pyarrow_numpy_reader(tmp_path):
    entry, seqs = write_unit(tmp_path)
    ds = open_dataset(str(tmp_path))
    assert ds.manifest.schema.equals(MANIFEST_SCHEMA)
    for s in seqs:
        assert np.array_equal(ds.tokens(s.id), s.tokens)
    # The ten-line reader of FORMAT.md: pyarrow + numpy, nothing from uvd.
    ledger = json.loads((tmp_path / "ledger" / "src-000000.json").read_text())
    table = pa.ipc.open_file(str(tmp_path / ledger["files"]["manifest"]["path"])).read_all()
    row = table.to_pylist()[1]
    shard = np.load(tmp_path / row["shard"], mmap_mode="r")
    assert isinstance(shard, np.memmap) and shard.dtype == np.uint16
    assert np.array_equal(shard[row["offset"] : row["offset"] + row["n_tokens"]], seqs[1].tokens)
    assert row["n_images"] == 3 and row["n_tokens"] == 768 and row["image_ids"] == seqs[1].image_ids
    rej = ds.rejects().to_pylist()
    assert rej == [{"unit": "src-000000", "source": "src", "record": "bad.jpg", "reason": "corrupt_image", "detail": "x"}]


def test_sequences_are_written_in_index_order_whatever_order_they_come(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    s = [token_seq(0, 1, 1), token_seq(1, 2, 2), token_seq(2, 1, 3)]
    ea, _ = write_unit(a, seqs=s)
    eb, _ = write_unit(b, seqs=[s[2], s[0], s[1]])
    assert ea["files"] == eb["files"]  # same content, same content-addressed names and hashes


def test_digest_ignores_layout(tmp_path):
    s = [token_seq(i, 1 + i % 3, i) for i in range(6)]
    write_unit(tmp_path / "one", "u-000000", s)
    write_unit(tmp_path / "two", "u-000000", [x for x in s[:2]])
    store_two = tmp_path / "two"
    second = [TokenSequence(**{**x.__dict__, "index": k}) for k, x in enumerate(s[2:])]
    write_unit(store_two, "u-000001", second)
    d1 = dataset_digest(open_dataset(str(tmp_path / "one")))
    d2 = dataset_digest(open_dataset(str(store_two)))
    assert d1 == d2
    write_unit(tmp_path / "three", "u-000000", s[:5])
    assert dataset_digest(open_dataset(str(tmp_path / "three"))) != d1


def test_verify_accepts_intact_and_catches_a_flipped_byte(tmp_path):
    entry, _ = write_unit(tmp_path)
    assert verify_dataset(str(tmp_path)) == []
    for kind in ("shard", "manifest", "rejects"):
        path = tmp_path / entry["files"][kind]["path"]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        problems = verify_dataset(str(tmp_path))
        assert any(kind in p and "sha256" in p for p in problems), problems
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    assert verify_dataset(str(tmp_path)) == []


def test_verify_catches_an_edited_ledger(tmp_path):
    write_unit(tmp_path)
    path = tmp_path / "ledger" / "src-000000.json"
    entry = json.loads(path.read_text())
    entry["counts"]["records_read"] = 4
    path.write_text(json.dumps(entry))
    assert any("ledger checksum" in p for p in verify_dataset(str(tmp_path)))


def test_uncommitted_files_are_invisible(tmp_path):
    write_unit(tmp_path)
    # A crash after the data files but before the ledger entry leaves orphans only.
    (tmp_path / "shards" / "src-000001-deadbeefdeadbeef.npy").write_bytes(b"partial")
    (tmp_path / "ledger" / "src-000001.json.tmp-123").write_text("{")
    ds = open_dataset(str(tmp_path))
    assert len(ds.ledger) == 1 and ds.manifest.num_rows == 2
    assert verify_dataset(str(tmp_path)) == []


def test_open_dataset_on_a_non_output_dir_fails_clearly(tmp_path):
    from uvd_pipeline.errors import DatasetError

    with pytest.raises(DatasetError, match="not a uvd output directory"):
        open_dataset(str(tmp_path))
