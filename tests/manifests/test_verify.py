"""`uvd verify` is complete and strict (issue 14.7): the seal (integrity.json) catches deleted
ledger entries and edited metadata; malformed entries and escaping paths are problems naming the
file, never a traceback; readers check every file's sha256 as they read it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from uvd_pipeline.errors import DatasetError
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.exports import export_megatron
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.manifests.seal import SEAL_FILE
from uvd_pipeline.manifests.writer import json_text, ledger_checksum, summary_checksum
from uvd_pipeline.recipe import parse_recipe


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A real output of 3 units; the last one's records are all rejected (no sequence)."""
    from uvd_pipeline.samples.pictures import picture

    root = tmp_path_factory.mktemp("verify")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        picture(rng, 40, 32).save(images / f"{i}.jpg")
    for name in ("x1.png", "x2.png"):
        (images / name).write_bytes(b"not a png")
    recipe = {"name": "verify", "tokenizer": {"preset": "tiny", "batch_size": 8},
              "sources": [{"name": "img", "plugin": "image_folder", "params": {"path": str(images), "unit_size": 2},
                           "category": "unlabelled_images"}]}
    out = root / "out"
    assert run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True).failures == []
    return out


@pytest.fixture
def out(built, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(built, copy)
    return copy


def _entries(out: Path) -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text())) for p in sorted((out / "ledger").glob("*.json"))]


def _rewrite(path: Path, entry: dict) -> None:
    """An edited entry with a recomputed checksum: what an attacker who read FORMAT.md writes."""
    entry["checksum"] = ledger_checksum(entry)
    path.write_text(json_text(entry))


def test_a_finished_run_is_sealed_and_verifies(out):
    seal = json.loads((out / SEAL_FILE).read_text())
    assert seal["ledger"]["entries"] == 3
    assert {"dataset.json", "palette.json", "recipe.resolved.yaml"} <= set(seal["files"])
    assert any(f.startswith("rollup/manifest/") for f in seal["files"])
    assert verify_dataset(str(out)) == []


def test_deleted_entry_of_an_all_rejected_unit_is_caught(out):
    path, entry = _entries(out)[-1]
    assert entry["counts"]["sequences"] == 0 and entry["counts"]["records_rejected"] == 2
    path.unlink()
    problems = verify_dataset(str(out))
    assert any("ledger/: 2 entries" in p and "sealed 3" in p for p in problems), problems


def test_replaced_entry_with_recomputed_checksum_is_caught(out):
    path, entry = _entries(out)[-1]
    entry["counts"]["records_read"] = entry["counts"]["records_rejected"] = 1  # hide a reject, consistently
    _rewrite(path, entry)
    assert any("entries differ" in p for p in verify_dataset(str(out)))


def test_deleted_or_edited_dataset_json_is_caught(out):
    summary_path = out / "dataset.json"
    summary = json.loads(summary_path.read_text())
    summary["tokenizer"]["preset"] = "lvm"  # a consistent forgery: checksum recomputed
    summary["checksum"] = summary_checksum(summary)
    summary_path.write_text(json_text(summary))
    assert any(p.startswith("dataset.json: does not match its sha256 in integrity.json") for p in verify_dataset(str(out)))
    summary_path.unlink()
    assert any(p.startswith("dataset.json: missing") for p in verify_dataset(str(out)))


@pytest.mark.parametrize("rel", ["palette.json", "recipe.resolved.yaml", "rollup"])
def test_edited_metadata_files_are_caught(out, rel):
    path = next((out / "rollup" / "manifest").glob("*.parquet")) if rel == "rollup" else out / rel
    path.write_bytes(path.read_bytes().replace(b"0", b"1", 1))
    problems = verify_dataset(str(out))
    assert any(p.startswith(str(path.relative_to(out))) and "altered" in p for p in problems), problems


def test_an_added_rollup_and_an_edited_seal_are_caught(out):
    shutil.copy(next((out / "rollup" / "manifest").glob("*.parquet")), out / "rollup" / "manifest" / "extra-000009.parquet")
    assert any("not sealed" in p for p in verify_dataset(str(out)))
    (out / "rollup" / "manifest" / "extra-000009.parquet").unlink()
    seal = json.loads((out / SEAL_FILE).read_text())
    seal["ledger"]["entries"] = 2
    (out / SEAL_FILE).write_text(json_text(seal))
    assert verify_dataset(str(out)) == [f"{SEAL_FILE}: root digest mismatch (file altered)"]
    (out / SEAL_FILE).unlink()
    assert any(p.startswith(f"{SEAL_FILE}: missing") for p in verify_dataset(str(out)))


MALFORMED = {
    "a list": lambda e: [e],
    "a string": lambda e: "entry",
    "no files": lambda e: {k: v for k, v in e.items() if k != "files"},
    "files as a list": lambda e: {**e, "files": list(e["files"].values())},
    "counts of the wrong type": lambda e: {**e, "counts": {**e["counts"], "records_read": "3"}},
    "no unit": lambda e: {k: v for k, v in e.items() if k != "unit"},
    "sha256 a number": lambda e: {**e, "files": {**e["files"], "shard": {**e["files"]["shard"], "sha256": 7}}},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_entries_are_problems_naming_the_file_not_tracebacks(out, case):
    path, entry = _entries(out)[0]
    bad = MALFORMED[case](entry)
    if isinstance(bad, dict) and "unit" in bad:
        bad["checksum"] = ledger_checksum(bad)
    path.write_text(json.dumps(bad))
    problems = verify_dataset(str(out))
    assert any(p.startswith(f"ledger/{path.name}:") for p in problems), problems
    with pytest.raises(DatasetError, match=path.name):
        dataset_digest(open_dataset(str(out)))


@pytest.mark.parametrize("bad_path", ["../x", "shards/../../x", "/etc/passwd", "manifests/a.arrow", "shards\\..\\x"])
def test_paths_outside_the_output_are_refused_by_verify_and_readers(out, bad_path, tmp_path):
    outside = out.parent / "x"
    path, entry = _entries(out)[0]
    shutil.copy(out / entry["files"]["shard"]["path"], outside)  # right bytes, wrong place
    entry["files"]["shard"]["path"] = bad_path
    _rewrite(path, entry)
    problems = verify_dataset(str(out))
    assert any(f"ledger/{path.name}: files.shard.path" in p for p in problems), problems
    with pytest.raises(DatasetError, match="files.shard.path"):
        open_dataset(str(out)).ledger
    with pytest.raises(DatasetError, match="files.shard.path"):
        export_megatron(str(out), str(tmp_path / "mega"))


def test_readers_check_every_file_they_read_with_an_opt_out(out, tmp_path):
    good = dataset_digest(open_dataset(str(out)))
    entry = _entries(out)[0][1]
    shard = out / entry["files"]["shard"]["path"]
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0x01  # a token, not the header
    shard.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=f"{shard.name}: shard does not match its sha256"):
        dataset_digest(open_dataset(str(out)))
    with pytest.raises(DatasetError, match="does not match its sha256"):
        export_megatron(str(out), str(tmp_path / "mega"))
    with pytest.raises(DatasetError, match="does not match its sha256"):
        open_dataset(str(out)).tokens(open_dataset(str(out)).manifest.column("sequence_id")[0].as_py())
    assert dataset_digest(open_dataset(str(out), check_hashes=False)) != good  # the opt-out reads it as it is
    summary = export_megatron(str(out), str(tmp_path / "fast"), check_hashes=False)
    assert summary.sequences == 4
    manifest = out / entry["files"]["manifest"]["path"]
    shard.write_bytes(bytes(data[:-3]) + bytes([data[-3] ^ 0x01]) + bytes(data[-2:]))  # restored
    manifest.write_bytes(manifest.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DatasetError, match="manifest of unit .* does not match its sha256"):
        dataset_digest(open_dataset(str(out)))


def test_walks_stream_the_ledger_and_one_sequence_reads_one_entry(out):
    ds = open_dataset(str(out))
    digest = dataset_digest(ds)
    assert "ledger" not in ds.__dict__ and len(ds.ledger_sha256) == 3  # streamed, not kept; every entry hashed
    row = ds.manifest.slice(0, 1).to_pylist()[0]
    fresh = open_dataset(str(out))
    assert np.array_equal(fresh.tokens(row["sequence_id"], row["unit"]), ds.tokens(row["sequence_id"]))
    assert "ledger" not in fresh.__dict__ and "ledger_names" not in fresh.__dict__  # no listing, one entry read
    assert dataset_digest(fresh) == digest
