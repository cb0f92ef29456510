"""Near-duplicates between the test and training splits, found by joining the committed curation
signatures (no image read again), with bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audit.curated import split_output
from uvd_pipeline.audit.leaks import split_leaks_by_signature
from uvd_pipeline.audit.report import build_report
from uvd_pipeline.curation.ledger import read_checked, read_entry
from uvd_pipeline.curation.views import tints_close
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
                rows[s].append((e["unit"], r["record"], r["image_id"], [r["phash"], *r["views"]], r["tint"]))
    leaking, exact, matched = set(), set(), set()
    for tu, tr, ti, th, tt in rows["test"]:
        for ru, rr, ri, rh, rt in rows["train"]:
            near = min(bin(x ^ y).count("1") for x in th for y in rh) <= threshold
            if ti == ri or (near and tints_close(np.array([tt]), np.array([rt]))[0]):
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


def synthetic_sides(rng: np.random.Generator, unit: int, n: int, prefix: str, base: np.ndarray | None = None):
    """A unit's signature rows: random hashes, some near copies of `base` (1..6 flipped bits), some
    copies of one blank hash and of one image id."""
    from uvd_pipeline.audit.leaks import _Side

    h = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
    ids = np.array([f"{prefix}{unit}-{k}" for k in range(n)], dtype=object)
    if base is not None:
        for k in range(0, n, 7):  # near copies
            flips = rng.choice(64, int(rng.integers(1, 7)), replace=False)
            h[k] = base[k % len(base)] ^ np.uint64(sum(1 << int(b) for b in flips))
        for k in range(3, n, 11):  # the same image bytes as a base row
            ids[k], h[k] = f"t0-{k % len(base)}", base[k % len(base)]
    h[1::13] = np.uint64(0x8000000000000000)  # many copies of one blank image
    views = rng.integers(0, 2**63, (n, 3), dtype=np.int64).astype(np.uint64)
    tint = rng.integers(0, 3, n).astype(np.uint16) * np.uint16(6)  # 0, 6, 12: some pairs too far apart
    if base is not None:
        for k in range(5, n, 17):  # a window of this row near the full hash of a base row (a crop)
            views[k, k % 3] = base[k % len(base)] ^ np.uint64(1 << int(rng.integers(64)))
    return _Side(unit, f"s{unit % 2}", f"{prefix}-{unit:06d}", np.array([f"r{k // 2}" for k in range(n)], dtype=object),
                 ids, h, views, tint)


def test_the_join_equals_all_pairs_on_synthetic_rows_with_degenerate_hashes():
    from uvd_pipeline.audit.leaks import SplitLeaks, _join_chunk

    rng = np.random.default_rng(3)
    test = [synthetic_sides(rng, 0, 300, "t")]
    test[0].image_ids = np.array([f"t0-{k}" for k in range(300)], dtype=object)
    trains = [synthetic_sides(rng, u, 400, "u", base=test[0].phash) for u in range(1, 5)]
    for threshold in (0, 3, 5):
        out = SplitLeaks(True, threshold)
        _join_chunk(iter(trains), test, threshold, 97, out, examples=1000)
        leaking, exact, matched = set(), set(), 0
        dist, ok_of = {}, {}
        for tr in trains:
            ta = np.concatenate([test[0].phash[:, None], test[0].views], axis=1)
            tb = np.concatenate([tr.phash[:, None], tr.views], axis=1)
            d = np.bitwise_count(ta[:, None, :, None] ^ tb[None, :, None, :]).min(axis=(2, 3))
            close = tints_close(test[0].tint[:, None], tr.tint[None, :])
            same = test[0].image_ids[:, None] == tr.image_ids[None, :]
            ok = ((d <= threshold) & close) | same
            dist[tr.unit], ok_of[tr.unit] = d, ok
            leaking |= set(test[0].records[ok.any(1)])
            exact |= set(test[0].records[same.any(1)])
            matched += len(set(tr.records[ok.any(0)]))
        assert (out.leaking_test_records, out.exact_test_records, out.train_records_matched) == \
            (len(leaking), len(exact), matched), threshold
        for e in out.examples:  # each example's twin is its closest training row (ties: first unit, first row)
            rows = np.flatnonzero(test[0].records == e["test_record"])
            best = min((0 if test[0].image_ids[r] == tr.image_ids[j] else int(dist[tr.unit][r, j]), tr.unit, j)
                       for tr in trains for r in rows for j in range(len(tr.phash))
                       if ok_of[tr.unit][r, j])
            assert e["distance"] == best[0], e
