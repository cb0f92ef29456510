"""`uvd audit`'s numbers: what the manifests hold, shares against targets, rejects, split leaks."""

from __future__ import annotations

import pytest
from rich.console import Console

from tests.audit.worlds import build_once, make_images, recipe_dict, small_dataset, source
from uvd_pipeline.audit.report import build_report, render_report, within_tolerance
from uvd_pipeline.manifests import Dataset


def test_report_matches_the_manifest(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    m = Dataset(str(out)).manifest
    report = build_report(str(out), targets="uvdv1")
    assert report.totals.sequences == m.num_rows == 36
    assert report.totals.tokens == sum(m["n_tokens"].to_pylist())
    by_source = {r.key: r for r in report.groups["source"]}
    assert by_source["web"].sequences == 24 and by_source["laion"].sequences == 12
    test = sum(s == "test" for s in m["split"].to_pylist())
    assert {r.key: r.sequences for r in report.groups["split"]} == {"test": test, "train": 36 - test}
    assert 0 < test < 36
    cats = {r.key: r for r in report.groups["category"]}
    assert cats["unlabelled_images"].share == 1.0
    assert cats["unlabelled_images"].deviation == pytest.approx(1 - 88.5 / 100.01)
    assert {r.key for r in report.out_of_tolerance} == set(cats)  # all of UVDv1's five categories drift
    assert report.leaked_images == [] and report.rejects == []
    console = Console(record=True, width=200)
    render_report(report, console)
    text = console.export_text()
    assert "OUT" in text and "share no image id with train" in text


def test_tolerance_is_relative_to_the_target():
    assert within_tolerance(0.95, 1.0, 0.1) and not within_tolerance(0.85, 1.0, 0.1)
    assert within_tolerance(0.00055, 0.0005, 0.1) and not within_tolerance(0.0007, 0.0005, 0.1)
    assert within_tolerance(0.0, 0.0, 0.1) and not within_tolerance(0.001, 0.0, 0.1)


def test_repeat_counts_in_shares_and_rejects_are_grouped(tmp_path_factory):
    root = tmp_path_factory.mktemp("repeat_world")
    a = make_images(root / "a", 4, seed=11)
    (a / "broken.png").write_bytes(b"\x89PNG not really")
    b = make_images(root / "b", 2, seed=12)
    data = recipe_dict(
        [source("img", a), source("vid", b, category="unlabelled_videos", repeat=2)],
        targets={"shares": {"unlabelled_images": 0.5, "unlabelled_videos": 0.5}, "enforce": False, "tolerance": 0.05},
    )
    out = build_once(tmp_path_factory, "repeat", data)
    report = build_report(str(out))  # auto: the recipe's targets
    assert report.targets_name == "recipe" and report.tolerance == 0.05
    cats = {r.key: r for r in report.groups["category"]}
    assert cats["unlabelled_videos"].effective_tokens == 2 * cats["unlabelled_videos"].tokens
    assert cats["unlabelled_images"].share == pytest.approx(0.5) and not report.out_of_tolerance
    assert report.rejects == [{"source": "img", "reason": "not_an_image", "records": 1}]
    assert any("x2" in n for n in report.notes)
    with pytest.raises(ValueError, match="no `targets:`"):
        build_report(str(small_dataset(tmp_path_factory)), targets="recipe")


def test_an_image_shared_by_a_test_and_a_train_sequence_in_different_units_is_a_leak(tmp_path):
    from tests.manifests.test_format import token_seq, write_unit
    from uvd_pipeline.audit.report import _tally, split_leaks
    from uvd_pipeline.types import TokenSequence

    held_out = token_seq(0, 2, 1)  # images img1-0, img1-1
    held_out = TokenSequence(**{**held_out.__dict__, "split": "test"})
    shares_one = token_seq(0, 2, 2)
    shares_one = TokenSequence(**{**shares_one.__dict__, "image_ids": ["img2-0", "img1-1"]})
    write_unit(tmp_path, "src-000000", [held_out])
    write_unit(tmp_path, "src-000001", [shares_one, token_seq(1, 1, 3)])
    ds = Dataset(str(tmp_path))
    assert split_leaks(ds) == ["img1-1"]
    assert split_leaks(ds, _tally(ds)[3]) == ["img1-1"]  # the ids build_report collects in its tally
