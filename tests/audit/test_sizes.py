"""Declared curation rates in a sizes file (`duplicate_rate`, `filtered_rate`): `uvd plan --sizes`
predicts the curated dataset; and recipes/uvdv1-release.yaml, UVDv1 with LAION curated, plans at
full scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from uvd_pipeline.audit.planner import make_plan
from uvd_pipeline.audit.sizes import load_sizes, plan_from_sizes
from uvd_pipeline.errors import RecipeError
from uvd_pipeline.recipe import load_recipe, parse_recipe

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / "recipes" / "uvdv1-release.yaml"
RELEASE_SIZES = REPO / "recipes" / "uvdv1-release.sizes.yaml"
PAPER = {"unlabelled_images": 88.5, "annotated_images": 7.2, "unlabelled_videos": 4.2,
         "annotated_videos": 0.06, "synthetic_3d": 0.05}


def small_recipe(folder: Path, curation: dict | None) -> dict:
    data = {"name": "s", "sources": [
        {"name": "imgs", "plugin": "image_folder", "category": "unlabelled_images",
         "params": {"path": str(folder), "unit_size": 5}},
    ]}
    if curation is not None:
        data["curation"] = curation
    return data


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from uvd_pipeline.samples.world import make_images

    root = tmp_path_factory.mktemp("sizes")
    make_images(root, np.random.default_rng(0), n=10)  # 12 files in units of 5: 5, 5, 2
    return root / "images"


def write_sizes(path: Path, **source) -> str:
    path.write_text(yaml.safe_dump({"sources": {"imgs": {"records": 12, **source}}}))
    return str(path)


def test_declared_rates_take_records_out_of_each_unit_before_sequencing(images, tmp_path):
    recipe = parse_recipe(small_recipe(images, {"dedup": True, "filters": [{"plugin": "image_stats"}]}))
    plan = plan_from_sizes(recipe, load_sizes(write_sizes(tmp_path / "s.yaml", duplicate_rate=0.2, filtered_rate=0.2)))
    # units of 5, 5, 2: round(5 x 0.2) = 1 duplicate and 1 filtered each; round(2 x 0.2) = 0
    assert [(e.records, e.dropped_duplicates, e.dropped_filtered, e.sequences) for e in plan.estimates] == \
        [(5, 1, 1, 3), (5, 1, 1, 3), (2, 0, 0, 2)]
    (row,) = plan.rows("source")
    assert (row.records, row.dropped_duplicates, row.dropped_filtered, row.sequences, row.tokens) == (12, 2, 2, 8, 8 * 256)
    d = plan.to_dict()
    assert d["totals"]["dropped_share"] == pytest.approx(4 / 12)
    assert d["by"]["source"][0]["dropped_duplicates"] == 2 and d["units"][0]["dropped_filtered"] == 1
    assert any("curation drops 20.0% of its records as duplicates" in n for n in plan.notes)
    # no rates: the listed plan and the declared one agree, and nothing is curated out
    plain = plan_from_sizes(recipe, load_sizes(write_sizes(tmp_path / "p.yaml")))
    assert not plain.curated and plain.totals.sequences == make_plan(recipe).totals.sequences == 12


def test_rates_apply_only_where_the_recipe_curates(images, tmp_path):
    sizes = load_sizes(write_sizes(tmp_path / "s.yaml", duplicate_rate=0.2, filtered_rate=0.2))
    cases = {
        None: (0, 0),  # no curation block: nothing is dropped
        "dedup": (2, 0),  # dedup without filters: duplicates only
        "filters": (0, 2),
        "skip": (0, 0),
    }
    blocks = {None: None, "dedup": {"dedup": True}, "filters": {"filters": [{"plugin": "image_stats"}]},
              "skip": {"dedup": True, "filters": [{"plugin": "image_stats"}], "skip_sources": ["imgs"]}}
    for case, (dup, filtered) in cases.items():
        plan = plan_from_sizes(parse_recipe(small_recipe(images, blocks[case])), sizes)
        t = plan.totals
        assert (t.dropped_duplicates, t.dropped_filtered) == (dup, filtered), case
        assert t.sequences == 12 - dup - filtered, case
        if (dup, filtered) != (2, 2):
            assert any("declared curation rates ignored" in n for n in plan.notes), case


def test_bad_rates_name_the_file_and_field(tmp_path):
    with pytest.raises(RecipeError, match=r"s\.yaml: invalid sizes file(.|\n)*sources\.imgs.*exceed 1"):
        load_sizes(write_sizes(tmp_path / "s.yaml", duplicate_rate=0.7, filtered_rate=0.4))
    with pytest.raises(RecipeError, match=r"sources\.imgs\.duplicate_rate: Input should be less than or equal to 1"):
        load_sizes(write_sizes(tmp_path / "s.yaml", duplicate_rate=1.5))


def test_uvd_plan_shows_the_curated_out_column_and_json(images, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(small_recipe(images, {"dedup": True})))
    sizes = write_sizes(tmp_path / "s.yaml", duplicate_rate=0.2)
    out = tmp_path / "plan.json"
    res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "plan", str(recipe), "--sizes", sizes, "--json", str(out)],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "curated out" in res.stdout and "2 (16.7%)" in res.stdout
    d = json.loads(out.read_text())
    assert d["by"]["source"][0]["dropped_duplicates"] == 2 and d["totals"]["sequences"] == 10


def test_release_recipe_is_uvdv1_with_laion_curated():
    release, base = load_recipe(RELEASE), load_recipe(REPO / "recipes" / "uvdv1.yaml")
    assert [s.model_dump() for s in release.sources] == [s.model_dump() for s in base.sources]
    cur = release.curation
    assert cur is not None and cur.dedup
    assert [f.plugin for f in cur.filters] == ["image_stats", "nsfw", "onnx_score"]
    assert {e.name for e in cur.eval_sets} == {"imagenet_val", "coco_val2017"}
    assert set(cur.skip_sources) == {s.name for s in release.sources} - {"laion_subset"}
    onnx = next(f for f in cur.filters if f.plugin == "onnx_score")
    assert onnx.params["model"] == "models/aesthetic.onnx" and onnx.params.get("min_score") is None
    lines = RELEASE.read_text().splitlines()
    marked = [line for line in lines if "USER-SUPPLIED" in line]
    assert any("model: models/aesthetic.onnx" in line for line in marked)  # the slot a user must fill is marked
    assert any("sha256:" in line for line in marked) and any("plugin: onnx_score" in line for line in marked)


@pytest.fixture(scope="module")
def release_plan():
    """The release sizes at 1/1000 of their records (same rates, units of the same size), so the
    test stays fast; `uvd plan recipes/uvdv1-release.yaml --sizes recipes/uvdv1-release.sizes.yaml`
    plans the full scale (744,333 units) the same way."""
    sizes = load_sizes(str(RELEASE_SIZES))
    for size in sizes.sources.values():
        size.records //= 1000
    return plan_from_sizes(load_recipe(RELEASE), sizes, origin=str(RELEASE_SIZES))


def test_release_plan_drops_a_fifth_of_laion_and_keeps_the_shares(release_plan):
    laion = next(r for r in release_plan.rows("source") if r.key == "laion_subset")
    assert laion.records == 1_500_000
    assert laion.dropped_duplicates == laion.dropped_filtered == 150_000
    assert laion.capped_sequences == 1_200_000  # predicted from the curated records
    rows = {r.key: r for r in release_plan.rows("category")}
    for cat, paper in PAPER.items():
        assert abs(rows[cat].share * 100 - paper) < 1.0, (cat, rows[cat].share)
