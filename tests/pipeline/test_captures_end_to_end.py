"""recipes/captures.yaml (multi-view captures + PoseTrack) on the sample world's two parts, run
through run_recipe (local): 16 images of 256 per sequence, the LVM CO3D layout in provenance, every
capture and video either in a sequence or a reject with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import open_dataset, verify_dataset
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.samples.world import make_samples

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "captures.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    make_samples(root / "data" / "samples", parts=["multiview", "posetrack"])
    spec = yaml.safe_load(RECIPE.read_text())
    for s in spec["sources"]:
        s["params"]["path"] = str(root / s["params"]["path"])
    out = root / "out"
    summary = run_recipe(parse_recipe(spec), str(out), engine="local", quiet=True)
    return out, summary


def test_the_captures_recipe_builds_and_verifies(built):
    out, summary = built
    assert summary.failures == [] and verify_dataset(str(out)) == []
    ds = open_dataset(str(out))
    manifest, rejects = ds.manifest.to_pylist(), ds.rejects().to_pylist()
    for r in manifest:
        assert r["n_images"] in (8, 16) and ds.tokens(r["sequence_id"]).shape == (r["n_images"] * 256,)
    co3d = [json.loads(r["provenance"]) for r in manifest if r["source"] == "co3d"]
    assert sorted((p["view"], tuple(p["captures"])) for p in co3d) == [
        ("depth_masks", ("hydrant/201_3",)), ("depth_masks", ("teddybear/101_1", "teddybear/102_7")),
        ("masks", ("hydrant/201_3",)), ("masks", ("teddybear/101_1", "teddybear/102_7")),
    ]  # fmt: skip
    pose = [r for r in manifest if r["source"] == "posetrack"]
    assert sorted(r["records"][0] for r in pose) == ["train/000101_sample_train", "train/000102_sample_train"]
    assert all(r["n_images"] == 16 and json.loads(r["provenance"])["annotation_view"] == "openpose" for r in pose)
    assert {(r["source"], r["record"], r["reason"]) for r in rejects} == {
        ("co3d", "hydrant/202_5", "video_too_short"),
        ("co3d", "teddybear/103_2", "missing_annotation"),
        ("posetrack", "train/000103_sample_train", "bad_annotation"),
    }
    # a skeleton view is drawn: its tokens are not those of a black image
    seq = pose[0]
    assert np.unique(ds.tokens(seq["sequence_id"]).reshape(16, 256)[1]).size > 1
