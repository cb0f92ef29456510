"""The sample world's capture parts: CO3D and PoseTrack 2018 layouts, the same bytes for a seed."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from uvd_pipeline.samples.captures import CO3D_CAPTURES, POSETRACK_JOINTS, make_multiview, make_posetrack


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_parts_repeat_for_a_seed_and_follow_the_layouts(tmp_path):
    for run in ("a", "b"):
        make_multiview(tmp_path / run, np.random.default_rng(0))
        make_posetrack(tmp_path / run, np.random.default_rng(1))
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    mv = tmp_path / "a" / "multiview"
    for category, sequence, n in CO3D_CAPTURES:
        assert len(list((mv / category / sequence / "images").glob("frame*.jpg"))) == n
        assert len(list((mv / category / sequence / "depth_masks").glob("frame*.png"))) == n
    mask = Image.open(mv / "teddybear" / "101_1" / "masks" / "frame000001.png")
    depth = Image.open(mv / "teddybear" / "101_1" / "depth_masks" / "frame000001.png")
    assert mask.mode == "L" and depth.mode == "1" and np.asarray(mask).any()
    assert len(list((mv / "teddybear" / "103_2" / "masks").glob("*.png"))) == 1
    data = json.loads((tmp_path / "a" / "posetrack" / "annotations" / "train" / "000101_sample_train.json").read_text())
    assert set(data) == {"images", "annotations", "categories"}
    assert data["categories"][0]["keypoints"] == list(POSETRACK_JOINTS)
    labelled = [im for im in data["images"] if im["is_labeled"]]
    assert 0 < len(labelled) < len(data["images"])
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert (kp[[3, 4], 2] == 0).all() and (kp[[0, 1, 2, 5, 16], 2] > 0).all()  # ears unlabelled
    for im in data["images"]:
        assert (tmp_path / "a" / "posetrack" / im["file_name"]).is_file()
