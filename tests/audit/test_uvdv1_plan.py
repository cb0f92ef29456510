"""`uvd plan recipes/uvdv1.yaml --sizes recipes/uvdv1.sizes.yaml`: the whole of UVDv1 planned at
full scale from declared dataset sizes, with none of the data present."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from uvd_pipeline.audit.planner import Plan, make_plan
from uvd_pipeline.audit.sizes import estimates_from_sizes, load_sizes, plan_from_sizes
from uvd_pipeline.errors import RecipeError
from uvd_pipeline.recipe import load_recipe, parse_recipe

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "uvdv1.yaml"
SIZES = REPO / "recipes" / "uvdv1.sizes.yaml"
# The LVM paper's token shares, in percent, as printed (they add up to 100.01).
PAPER = {"unlabelled_images": 88.5, "annotated_images": 7.2, "unlabelled_videos": 4.2,
         "annotated_videos": 0.06, "synthetic_3d": 0.05}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_from_sizes(load_recipe(RECIPE), load_sizes(str(SIZES)), origin=str(SIZES))


def test_the_recipe_has_the_five_categories_and_its_named_slots():
    recipe = load_recipe(RECIPE)
    assert recipe.targets is not None and recipe.targets.preset == "uvdv1" and recipe.targets.enforce
    by_cat: dict[str, set[str]] = {}
    for s in recipe.sources:
        by_cat.setdefault(s.category, set()).add(s.name)
    assert set(by_cat) == set(PAPER)
    assert {"laion_subset"} == by_cat["unlabelled_images"]
    assert {"imagenet_classes", "coco_detection", "coco_pose", "coco_segmentation", "expert_ktuple"} <= by_cat["annotated_images"]
    assert "kinetics700" in by_cat["unlabelled_videos"]
    assert {"vipseg", "jhmdb", "ava", "hand14k"} <= by_cat["annotated_videos"]
    assert by_cat["synthetic_3d"] == {"objaverse"}
    assert recipe.source("laion_subset").plugin == "webdataset"
    assert recipe.source("kinetics700").sequencer.plugin == "video_clip"
    assert recipe.source("objaverse").test_fraction == 0.16


def test_category_shares_are_within_one_point_of_the_paper(plan):
    rows = {r.key: r for r in plan.rows("category")}
    assert set(rows) == set(PAPER)
    for cat, paper in PAPER.items():
        assert abs(rows[cat].share * 100 - paper) < 1.0, (cat, rows[cat].share)
        assert rows[cat].unknown_units == 0 and rows[cat].sequences > 0


def test_full_scale_totals_match_the_paper(plan):
    """1.64B images and 420B tokens in the paper; the printed 0.05 % for 3D (50,000 orbits of 16
    views = 204.8M tokens) pins the total at 409.6B tokens, 2.5 % under."""
    t = plan.totals
    assert abs(t.images / 1.64e9 - 1) < 0.03 and abs(t.tokens / 420e9 - 1) < 0.03
    assert t.tokens == 256 * t.images
    source = {r.key: r for r in plan.rows("source")}
    assert source["objaverse"].sequences == 50_000 and source["objaverse"].images == 800_000
    assert source["laion_subset"].capped_sequences == 1_490_000_000  # declared
    assert 1.40e9 < source["laion_subset"].sequences < 1.49e9  # trimmed to 88.5 %
    assert source["laion_subset"].units == 149_000  # one 10,000-sample tar a unit
    assert plan.gpu_hours == pytest.approx(t.images / plan.gpu_images_per_s / 3600)
    how = {}
    for e in plan.estimates:
        how.setdefault(e.spec.name, set()).add(e.predicted_by)
    assert how["kinetics700"] == how["vipseg"] == how["objaverse"] == {"sequencer"}  # their own predict()
    assert how["coco_detection"] == how["expert_ktuple"] == {"sequencer"}  # pairs / ktuple, with epochs
    assert how["imagenet_classes"] == {"declared"} and how["laion_subset"] == {"sequencer"}  # single


def test_pairs_and_ktuples_are_planned_with_the_lvm_epochs(plan):
    """recipes/uvdv1.yaml sets epochs: 5 (the LVM scripts' n_epochs): five passes over every unit,
    so five times the sequences of one pass, before the targets trim."""
    recipe = load_recipe(RECIPE)
    for name in ("coco_detection", "inpainting", "expert_ktuple"):
        assert recipe.source(name).sequencer.params["epochs"] == 5
    coco = [e for e in plan.estimates if e.spec.name == "coco_detection"]
    one_pass = sum(e.records // 8 for e in coco)
    assert sum(e.sequences for e in coco) == 5 * one_pass and one_pass == 117266 // 64 * 8 + (117266 % 64) // 8
    kt = [e for e in plan.estimates if e.spec.name == "expert_ktuple"]
    assert sum(e.sequences for e in kt) == 5 * sum(e.records // 3 for e in kt)
    assert all(e.images == 15 * e.sequences for e in kt)


def test_uvd_plan_prints_the_shares(tmp_path):
    env = {**os.environ, "COLUMNS": "220"}
    res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "plan", str(RECIPE), "--sizes", str(SIZES)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    table = res.stdout[res.stdout.index("predicted by category"):res.stdout.index("predicted by task")]
    for cat, paper in PAPER.items():
        row = next(line for line in table.splitlines() if f" {cat} " in line)
        share, target, deviation = re.findall(r"([+-]?\d+\.\d\d)%", row)
        assert abs(float(share) - paper) < 1.0 and abs(float(target) - paper) < 0.02
    assert "GPU-hours" in res.stdout and "no data was listed" in res.stdout


def test_sizes_plan_equals_the_listed_plan_on_real_data(tmp_path):
    """The same recipe planned by listing files and from declared sizes gives the same rows."""
    from uvd_pipeline.samples.world import make_images

    make_images(tmp_path, np.random.default_rng(0), n=10)  # 12 files in units of 5: 5, 5, 2
    data = {"name": "s", "sources": [
        {"name": "imgs", "plugin": "image_folder", "category": "unlabelled_images",
         "params": {"path": str(tmp_path / "images"), "unit_size": 5}},
    ]}
    recipe = parse_recipe(data)
    sizes = tmp_path / "sizes.yaml"
    sizes.write_text(yaml.safe_dump({"sources": {"imgs": {"records": 12}}}))  # unit size from the params
    listed = make_plan(recipe)
    declared = plan_from_sizes(recipe, load_sizes(str(sizes)))
    fields = ("units", "records", "sequences", "images", "tokens")
    assert [[getattr(r, f) for f in fields] for r in declared.rows("source")] == \
        [[getattr(r, f) for f in fields] for r in listed.rows("source")] == [[3, 12, 12, 12, 3072]]


def test_grouping_rules_stay_inside_units(tmp_path):
    recipe = load_recipe(RECIPE)
    sizes = load_sizes(str(SIZES)).model_copy(deep=True)
    sizes.sources["coco_detection"].records = 150  # units of 64, 64, 22 -> 8 + 8 + 2 pairs sequences a pass
    ests = [e for e in estimates_from_sizes(recipe, sizes) if e.spec.name == "coco_detection"]
    assert [(e.records, e.sequences, e.images) for e in ests] == [(64, 40, 640), (64, 40, 640), (22, 10, 160)]


def test_bad_sizes_files_name_the_file_and_the_field(tmp_path):
    recipe = load_recipe(RECIPE)
    full = yaml.safe_load(SIZES.read_text())

    def write(data) -> str:
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    partial = {"sources": {k: v for k, v in full["sources"].items() if k != "kinetics700"}}
    with pytest.raises(RecipeError, match=r"s\.yaml: no declared size for the recipe's sources \['kinetics700'\]"):
        plan_from_sizes(recipe, load_sizes(p := write(partial)), origin=p)
    no_rule = {"sources": {**full["sources"], "hand14k": {"records": 10}}}
    with pytest.raises(RecipeError, match=r"sources\.hand14k\.per_sequence: sequencer 'hand_pose_pairs' cannot predict"):
        plan_from_sizes(recipe, load_sizes(p := write(no_rule)), origin=p)
    with pytest.raises(RecipeError, match=r"s\.yaml: invalid sizes file\n(.|\n)*sources\.laion_subset\.recods: Extra inputs"):
        load_sizes(write({"sources": {"laion_subset": {"recods": 5}}}))
    with pytest.raises(RecipeError, match="not in recipe"):
        plan_from_sizes(recipe, load_sizes(p := write({"sources": {**full["sources"], "nope": {"records": 1}}})), origin=p)
