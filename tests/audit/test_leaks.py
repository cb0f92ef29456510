"""Near-duplicates between the test and training splits, found by joining the committed curation
signatures (no image read again), with bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audit.curated import split_output
from uvd_pipeline.audit.leaks import split_leaks_by_signature
from uvd_pipeline.audit.report import build_report
from uvd_pipeline.curation.ledger import read_checked, read_entry
from uvd_pipeline.manifests import Dataset

pytest.importorskip("skimage")


def brute_force(ds: Dataset, threshold: int) -> tuple[set, set, set]:
    """All pairs of (test row, train row) from the whole tables: leaking test records, those with
    the same image, training records matched."""
    rows = {"test": [], "train": []}
    m = ds.manifest
    split_of = {(u, r): s for u, recs, s in zip(m["unit"].to_pylist(), m["records"].to_pylist(), m["split"].to_pylist())
                for r in recs}
    for e in ds.ledger:
        entry = read_entry(ds.store, e["unit"])
        for r in read_checked(ds.store, entry["file"]).to_pylist():
            s = split_of.get((e["unit"], r["record"]))
            if s:
                rows[s].append((e["unit"], r["record"], r["image_id"], r["phash"]))
    leaking, exact, matched = set(), set(), set()
    for tu, tr, ti, th in rows["test"]:
        for ru, rr, ri, rh in rows["train"]:
            if ti == ri or bin(th ^ rh).count("1") <= threshold:
                leaking.add((tu, tr))
                matched.add((ru, rr))
                if ti == ri:
                    exact.add((tu, tr))
    return leaking, exact, matched


def test_test_records_near_training_records_are_found_across_sources(tmp_path_factory):
    _, out = split_output(tmp_path_factory)
    ds = Dataset(str(out))
    got = split_leaks_by_signature(ds, threshold=4)
    assert got.available and got.chunks == 1 and got.units_without_signatures == 0
    assert (got.test_records, got.leaking_test_records, got.exact_test_records, got.train_records_matched) == (3, 2, 1, 2)
    pairs = {(e["test_record"], e["train_record"], e["same_image"]) for e in got.examples}
    assert pairs == {("p3_small.jpg", "p3.jpg", False), ("p2_copy.jpg", "p2.jpg", True)}
    assert all(e["test_source"] == "held" and e["train_source"] == "train" for e in got.examples)
    near = next(e for e in got.examples if e["test_record"] == "p3_small.jpg")
    assert 0 <= near["distance"] <= 4
    leaking, exact, matched = brute_force(ds, 4)
    assert (len(leaking), len(exact), len(matched)) == (2, 1, 2)


@pytest.mark.parametrize("threshold", [0, 4, 12])
def test_the_join_equals_all_pairs_at_any_threshold_chunking_and_block_size(tmp_path_factory, threshold):
    _, out = split_output(tmp_path_factory)
    ds = Dataset(str(out))
    leaking, exact, matched = brute_force(ds, threshold)
    whole = split_leaks_by_signature(ds, threshold)
    assert (whole.leaking_test_records, whole.exact_test_records, whole.train_records_matched) == \
        (len(leaking), len(exact), len(matched))
    assert {(e["test_unit"], e["test_record"]) for e in whole.examples} == leaking
    # chunks are whole units: one row a chunk makes a chunk of each of the held source's 3 units
    small = split_leaks_by_signature(Dataset(str(out)), threshold, chunk_rows=1, max_pairs=1)
    assert whole.chunks == 1 and small.chunks == 3
    assert small.to_dict() | {"chunks": 1} == whole.to_dict()  # no training record matches two chunks here
    assert small.examples == whole.examples


def test_an_output_without_signatures_says_how_to_get_them(tmp_path_factory, tmp_path):
    import shutil

    _, built = split_output(tmp_path_factory)
    out = tmp_path / "plain"
    shutil.copytree(built, out, ignore=shutil.ignore_patterns("curation"))  # as built with no curation block
    got = split_leaks_by_signature(Dataset(str(out)), 4)
    assert not got.available and "curation:" in got.note and "signature" in got.note
    report = build_report(str(out))
    assert report.to_dict()["split_near_duplicates"]["available"] is False


def test_the_audit_reports_it_without_loading_the_whole_manifest(tmp_path_factory, monkeypatch):
    _, out = split_output(tmp_path_factory)

    class Refuse:
        def __get__(self, obj, cls):
            raise AssertionError("loaded the whole manifest")

    monkeypatch.setattr(Dataset, "manifest", Refuse())
    report = build_report(str(out))
    near = report.to_dict()["split_near_duplicates"]
    assert near["leaking_test_records"] == 2 and near["threshold"] == 4
    assert report.leaked_images  # the byte copy is also an exact image-id leak of the manifests
    assert np.isfinite(near["test_records"])
    from uvd_pipeline.audit.html import render_html

    page = render_html(report, Dataset(str(out)))
    assert '<span class="out">near-duplicates test/train:</span> 2 of 3 test records' in page
