"""Manifests and rejects are zstd-compressed Arrow IPC files; the uncompressed files written before
read the same through every reader (issue 17.4)."""

import hashlib
import json

import numpy as np
import pyarrow as pa

from uvd_pipeline.manifests import MANIFEST_SCHEMA, OutputStore, dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.manifests.writer import arrow_bytes, json_text, ledger_checksum

from .test_format import token_seq, write_unit


def test_manifest_and_rejects_are_zstd_ipc_files_plain_pyarrow_reads(tmp_path):
    seqs = [token_seq(i, 1, i) for i in range(200)]
    entry, _ = write_unit(tmp_path, seqs=seqs)
    data = (tmp_path / entry["files"]["manifest"]["path"]).read_bytes()
    plain = arrow_bytes(pa.ipc.open_file(pa.py_buffer(data)).read_all())
    assert len(data) < len(plain) / 2  # compressed: 200 similar rows shrink
    assert data[:6] == b"ARROW1"  # still an Arrow IPC *file*
    table = pa.ipc.open_file(str(tmp_path / entry["files"]["manifest"]["path"])).read_all()
    assert table.schema.equals(MANIFEST_SCHEMA)  # types unchanged: no dictionary columns
    assert table.column("sequence_id").to_pylist() == [s.id for s in seqs]


def _rewrite_uncompressed(root) -> None:
    """Turn every committed unit into the pre-17.4 form: plain IPC files, ledger entries re-hashed."""
    store = OutputStore(str(root))
    for led in sorted((root / "ledger").glob("*.json")):
        entry = json.loads(led.read_text())
        for kind in ("manifest", "rejects"):
            info = entry["files"][kind]
            old = root / info["path"]
            data = arrow_bytes(pa.ipc.open_file(pa.py_buffer(old.read_bytes())).read_all())  # compression=None
            sha = hashlib.sha256(data).hexdigest()
            new_rel = f"{info['path'].rsplit('-', 1)[0]}-{sha[:16]}.arrow"
            old.unlink()
            store.write_bytes(new_rel, data)
            entry["files"][kind] = {"path": new_rel, "sha256": sha, "bytes": len(data)}
        entry["checksum"] = ledger_checksum(entry)
        led.write_text(json_text(entry))


def test_old_uncompressed_outputs_read_verify_and_digest_the_same(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    seqs = [token_seq(i, 1 + i % 2, i) for i in range(30)]
    write_unit(new, seqs=seqs)
    write_unit(old, seqs=seqs)
    _rewrite_uncompressed(old)
    entry = json.loads(next((old / "ledger").glob("*.json")).read_text())
    old_bytes = (old / entry["files"]["manifest"]["path"]).read_bytes()
    assert len(old_bytes) > (new / json.loads(next((new / "ledger").glob("*.json")).read_text())["files"]["manifest"]["path"]).stat().st_size
    assert verify_dataset(str(old)) == []
    a, b = open_dataset(str(new)), open_dataset(str(old))
    assert a.manifest.equals(b.manifest) and a.rejects().equals(b.rejects())
    assert dataset_digest(a) == dataset_digest(b)
    assert np.array_equal(b.tokens(seqs[7].id), seqs[7].tokens)


def test_store_names_are_the_listing_as_a_set_without_temporary_files(tmp_path):
    store = OutputStore(str(tmp_path))
    store.makedirs("ledger")
    for name in ("b.json", "a.json", "c.json.tmp-0f", "d.txt"):
        (tmp_path / "ledger" / name).write_text("{}")
    assert store.names("ledger", ".json") == {"a.json", "b.json"}
    assert store.list("ledger", ".json") == ["a.json", "b.json"]
    assert store.names("nowhere") == set() and store.list("nowhere") == []
