"""Filter scores in the manifests (pipeline/scores.py): with filters in the recipe every manifest row
holds its records' scores, read from the committed signature tables (equal to them, not decoded
again); an altered signature table is refused at build naming the file; without filters the
manifests are exactly what they were."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from tests.curation.worlds import distinct_recipe, dup_recipe, make_dup_world
from uvd_pipeline.curation.ledger import LEDGER_DIR as SIG_LEDGER_DIR
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.exports.lvm_jsonl import export_lvm_jsonl
from uvd_pipeline.manifests import MANIFEST_SCHEMA, dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.manifests.reader import read_arrow
from uvd_pipeline.manifests.schema import SCORED_MANIFEST_SCHEMA, SCORES_COLUMN
from uvd_pipeline.recipe import parse_recipe

pytest.importorskip("skimage")
pytest.importorskip("imagehash")

FILTERS = {"filters": [{"plugin": "image_stats"}], "skip_sources": ["more"]}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The duplicate world curated by image_stats alone, the source `more` left out of curation."""
    root = tmp_path_factory.mktemp("world")
    make_dup_world(root)
    out = str(tmp_path_factory.mktemp("out") / "scored")
    summary = run_recipe(parse_recipe(dup_recipe(root, FILTERS)), out, engine="local", quiet=True)
    assert summary.failures == []
    return root, out


def signature_scores(out: str) -> dict[str, dict[str, dict]]:
    """record -> image id -> scores, from every committed signature table of the output."""
    ds = open_dataset(out)
    found: dict[str, dict[str, dict]] = {}
    for name in ds.store.list(SIG_LEDGER_DIR, ".json"):
        entry = json.loads(ds.store.read_text(f"{SIG_LEDGER_DIR}/{name}"))
        for row in read_arrow(ds.store.read_bytes(entry["file"]["path"])).to_pylist():
            found.setdefault(row["record"], {})[row["image_id"]] = json.loads(row["scores"])
    return found


def test_manifest_rows_hold_the_signature_tables_scores(scored) -> None:
    _, out = scored
    ds = open_dataset(out)
    stored = signature_scores(out)
    assert "blank.jpg" in stored and "p6.jpg" not in stored  # filtered record scored; skipped source not
    seen = set()
    for entry, table in ds.iter_entry_tables("manifest"):
        assert table.schema.equals(SCORED_MANIFEST_SCHEMA), entry["unit"]
        for row in table.to_pylist():
            got = json.loads(row[SCORES_COLUMN])
            if row["source"] == "more":  # left out of curation: no signatures, no scores
                assert got == {}
                continue
            assert set(got) == set(row["records"])
            for record, by_image in got.items():
                assert by_image == stored[record]
                assert set(by_image) <= set(row["image_ids"])
                stats = by_image[row["image_ids"][0]]["image_stats"]
                assert stats["short_side"] == 240.0 and stats["std"] > 5.0  # real scores of a 320 x 240 photo
                seen.add(record)
    assert "blank.jpg" not in seen  # filtered: in no manifest
    assert seen == set(stored) - {"blank.jpg"}
    assert verify_dataset(out) == []


def test_readers_and_exports_take_the_scored_manifests(scored, tmp_path) -> None:
    _, out = scored
    ds = open_dataset(out)
    assert ds.manifest.schema.equals(SCORED_MANIFEST_SCHEMA)
    rollup = pq.read_table(ds.store.path("rollup/manifest"))
    assert SCORES_COLUMN in rollup.column_names and rollup.num_rows == ds.manifest.num_rows
    summary = export_lvm_jsonl(out, str(tmp_path / "lvm.jsonl"), split="all")
    assert summary.sequences == ds.manifest.num_rows > 0


def test_an_altered_signature_table_is_refused_at_build(scored, tmp_path) -> None:
    """A unit built after its signature table changed would keep scores that no longer are the
    committed ones: its build fails naming the file, and the unit stays uncommitted."""
    import pyarrow as pa

    from uvd_pipeline.manifests.writer import arrow_bytes

    root, out = scored
    copy = str(tmp_path / "tampered")
    shutil.copytree(out, copy)
    ds = open_dataset(copy)
    unit = next(e["unit"] for e in ds.ledger if e["source"] == "web")
    entry = json.loads(ds.store.read_text(f"{SIG_LEDGER_DIR}/{unit}.json"))
    path = entry["file"]["path"]
    table = read_arrow(ds.store.read_bytes(path))
    forged = [json.dumps({"image_stats": {**json.loads(s)["image_stats"], "std": 99.0}}) for s in table["scores"].to_pylist()]
    ds.store.write_bytes(path, arrow_bytes(table.set_column(table.schema.get_field_index("scores"), "scores",
                                                            pa.array(forged, pa.string()))))
    ds.store.remove(f"ledger/{unit}.json")  # the unit is built again on the rerun
    summary = run_recipe(parse_recipe(dup_recipe(root, FILTERS)), copy, engine="local", quiet=True)
    assert [u for u, _ in summary.failures] == [unit]
    error = summary.failures[0][1]
    assert ds.store.path(path) in error and "sha256" in error, error
    assert not ds.store.exists(f"ledger/{unit}.json")


def test_without_filters_the_manifests_are_unchanged(tmp_path) -> None:
    """No curation block, and curation without filters, write the same manifest files byte for byte
    (format schema, no scores column); filters add the column and change nothing else."""
    base = distinct_recipe(tmp_path)
    outs = {}
    for name, curation in (("plain", None), ("dedup", {"dedup": True}), ("filters", {"filters": [{"plugin": "image_stats"}]})):
        outs[name] = str(tmp_path / name)
        recipe = base if curation is None else {**base, "curation": curation}
        assert run_recipe(parse_recipe(recipe), outs[name], engine="local", quiet=True).failures == []

    def manifests(out: str) -> dict[str, dict]:
        return {e["unit"]: e["files"]["manifest"] for e in open_dataset(out).ledger}

    plain = manifests(outs["plain"])
    assert manifests(outs["dedup"]) == plain  # same paths and sha256: the very same files
    ds = open_dataset(outs["plain"])
    assert ds.manifest.schema.equals(MANIFEST_SCHEMA)
    assert pq.read_table(ds.store.path("rollup/manifest")).schema.remove_metadata().equals(MANIFEST_SCHEMA)
    with_scores = open_dataset(outs["filters"]).manifest
    assert with_scores.drop_columns([SCORES_COLUMN]).equals(ds.manifest)
    assert all(json.loads(v) for v in with_scores[SCORES_COLUMN].to_pylist())
    digests = {name: dataset_digest(open_dataset(out)) for name, out in outs.items()}
    assert len(set(digests.values())) == 1, digests
