"""Curation end to end through `run_recipe`: every planted duplicate, the evaluation match and the
blank image are dropped with their reasons before the build, accounting holds, and the decisions
and digest are the same on every engine and after a resume."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.curation.worlds import dup_recipe, full_curation, make_dup_world
from tests.engines.helpers import ray_cluster  # noqa: F401 (a fixture)
from uvd_pipeline.curation.ledger import DECISIONS_FILE
from uvd_pipeline.curation.verify import verify_curation
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import parse_recipe

pytest.importorskip("skimage")


def rejects(out: str) -> dict[str, tuple[str, str]]:
    ds = open_dataset(out)
    rows: dict[str, tuple[str, str]] = {}
    for e in ds.ledger:
        from uvd_pipeline.manifests.reader import read_arrow

        t = read_arrow(ds.store.read_bytes(e["files"]["rejects"]["path"]))
        for r in t.to_pylist():
            rows[r["record"]] = (r["reason"], r["detail"])
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("dups")
    return root, make_dup_world(root)


@pytest.fixture(scope="module")
def local_run(world, tmp_path_factory):
    root, _ = world
    out = str(tmp_path_factory.mktemp("out") / "local")
    recipe = parse_recipe(dup_recipe(root, full_curation(root)))
    summary = run_recipe(recipe, out, engine="local", quiet=True)
    return out, summary


def test_every_planted_duplicate_is_dropped_with_its_reason(world, local_run) -> None:
    _, expected = world
    out, summary = local_run
    got = rejects(out)
    for record, reason in expected["dropped"].items():
        assert got[record][0] == reason, (record, got.get(record))
    for pair, reason in expected["pairs"].items():
        lost = [r for r in pair if r in got]
        assert len(lost) == 1 and got[lost[0]][0] == reason, (pair, {r: got.get(r) for r in pair})
        (kept,) = pair - {lost[0]}
        assert repr(kept) in got[lost[0]][1]  # the detail names the kept twin
    assert "val_0001.jpg" in got["p4.jpg"][1] and "evaluation set" in got["p4.jpg"][1]
    assert "image_stats" in got["blank.jpg"][1]
    curation_drops = {r for r, (why, _) in got.items() if why in ("duplicate", "near_duplicate", "eval_contamination", "filtered")}
    assert len(curation_drops) == 5
    totals = summary.dataset["totals"]
    assert totals["records_read"] == totals["records_used"] + totals["records_rejected"]
    assert totals["sequences"] == 11 - 5
    assert verify_dataset(out) == [] and verify_curation(out) == []


def test_no_curation_block_keeps_everything(world, tmp_path) -> None:
    root, _ = world
    out = str(tmp_path / "plain")
    summary = run_recipe(parse_recipe(dup_recipe(root)), out, engine="local", quiet=True)
    assert summary.dataset["totals"]["sequences"] == 11
    assert not open_dataset(out).store.exists(DECISIONS_FILE)


def test_ray_and_beam_decide_the_same(world, local_run, tmp_path, ray_cluster) -> None:  # noqa: F811
    root, _ = world
    out, _ = local_run
    want = dataset_digest(open_dataset(out))
    recipe = parse_recipe(dup_recipe(root, full_curation(root)))
    for engine in ("ray", "beam"):
        other = str(tmp_path / engine)
        run_recipe(recipe, other, engine=engine, workers=2, quiet=True)
        assert dataset_digest(open_dataset(other)) == want, engine
        assert rejects(other) == rejects(out), engine


def test_a_resume_reuses_signatures_and_decisions(world, local_run, tmp_path) -> None:
    """A run killed after its curation pass resumes with the same decisions: the committed
    signatures and decisions.json are reused, never recomputed."""
    import shutil

    root, _ = world
    out, _ = local_run
    copy = str(tmp_path / "resumed")
    shutil.copytree(out, copy)
    ds = open_dataset(copy)
    for name in ds.store.list("ledger", ".json")[:2]:  # two units lost with the kill
        ds.store.remove(f"ledger/{name}")
    before = ds.store.read_text(DECISIONS_FILE)
    run_recipe(parse_recipe(dup_recipe(root, full_curation(root))), copy, engine="local", quiet=True)
    assert ds.store.read_text(DECISIONS_FILE) == before
    assert dataset_digest(open_dataset(copy)) == dataset_digest(open_dataset(out))
    assert rejects(copy) == rejects(out)


def test_decision_files_are_checked(world, local_run, tmp_path) -> None:
    import json
    import shutil

    out, _ = local_run
    copy = str(tmp_path / "tampered")
    shutil.copytree(out, copy)
    ds = open_dataset(copy)
    summary = json.loads(ds.store.read_text(DECISIONS_FILE))
    path = next(iter(summary["units"].values()))["path"]
    table = pa.ipc.open_file(ds.store.path(path)).read_all()
    ds.store.write_bytes(path, _arrow(table.slice(1)))
    problems = verify_curation(copy)
    assert any(path in p and "sha256" in p for p in problems), problems


def _arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def test_new_thresholds_reuse_stored_scores(world, local_run, tmp_path, monkeypatch) -> None:
    """A new output with other thresholds and `signatures_from` decodes nothing again: the
    signature pass is made to fail, and the run still decides from the stored scores."""
    import uvd_pipeline.curation.passes as passes

    root, _ = world
    out, _ = local_run

    def no_decoding(*_a, **_k):
        raise AssertionError("signatures were recomputed")

    monkeypatch.setattr(passes, "sight_unit", no_decoding)
    cur = {**full_curation(root), "signatures_from": out, "filters": [{"plugin": "image_stats", "params": {"min_std": 60.0}}]}
    other = str(tmp_path / "rethreshold")
    run_recipe(parse_recipe(dup_recipe(root, cur)), other, engine="local", quiet=True)
    got = rejects(other)
    filtered = {r for r, (why, _) in got.items() if why == "filtered"}
    assert "blank.jpg" in filtered and len(filtered) > 1  # the stricter min_std drops more than the blank
    assert all("min_std 60" in got[r][1] for r in filtered - {"blank.jpg"})


def test_curation_that_drops_nothing_leaves_the_dataset_as_it_was(tmp_path) -> None:
    """Distinct photographs: with every curation pass on and nothing to drop, the sequences and
    tokens are those of the same recipe without a curation block (same digest)."""
    from tests.curation.worlds import distinct_recipe

    base = distinct_recipe(tmp_path)
    plain, curated = str(tmp_path / "plain"), str(tmp_path / "curated")
    run_recipe(parse_recipe(base), plain, engine="local", quiet=True)
    run_recipe(parse_recipe({**base, "curation": {"dedup": True, "filters": [{"plugin": "image_stats"}]}}), curated,
               engine="local", quiet=True)
    assert dataset_digest(open_dataset(curated)) == dataset_digest(open_dataset(plain))
    assert open_dataset(curated).store.exists(DECISIONS_FILE)


def test_an_evaluation_set_changed_after_units_were_built_is_refused(world, tmp_path) -> None:
    """Units built with one curation must not be joined by units decided another way: a resume
    after a file was added to an evaluation set is refused (exit 2) naming the decisions file."""
    import shutil

    from uvd_pipeline.errors import RecipeError

    root = tmp_path / "world"
    shutil.copytree(world[0], root)
    recipe = parse_recipe(dup_recipe(root, full_curation(root)))
    out = str(tmp_path / "out")
    run_recipe(recipe, out, engine="local", quiet=True)
    ds = open_dataset(out)
    ds.store.remove(f"ledger/{ds.store.list('ledger', '.json')[0]}")  # one unit left to build
    (root / "eval" / "val_0002.jpg").write_bytes((root / "web" / "p0.jpg").read_bytes())  # p0 now contaminated
    with pytest.raises(RecipeError, match="curation inputs changed since units were built"):
        run_recipe(recipe, out, engine="local", quiet=True)


def test_stored_signatures_are_not_reused_across_another_exif_rule(world, local_run, tmp_path) -> None:
    """`signatures_from` reuses rows only when records are read the same way: with EXIF orientation
    applied instead of ignored the pixels may differ, so the signature pass decodes again."""
    import uvd_pipeline.curation.passes as passes

    root, _ = world
    out, _ = local_run
    seen = []
    real = passes.sight_unit

    def counting(*a, **k):
        seen.append(1)
        return real(*a, **k)

    passes.sight_unit = counting
    try:
        recipe = {**dup_recipe(root, {**full_curation(root), "signatures_from": out}), "preprocess": {"exif": "apply"}}
        run_recipe(parse_recipe(recipe), str(tmp_path / "exif"), engine="local", quiet=True)
    finally:
        passes.sight_unit = real
    assert seen  # decoded again, not reused
