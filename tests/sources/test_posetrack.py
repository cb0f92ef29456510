"""PoseTrack 2018 per-video JSON: joints mapped to COCO / OpenPose by name, clips over labelled
frames, every person of a frame drawn, malformed files as rejects naming the file and field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uvd_pipeline.renderers.openpose import COCO_KEYPOINTS, OpenPoseRenderer, coco_to_openpose
from uvd_pipeline.samples.captures import POSETRACK_JOINTS, make_posetrack
from uvd_pipeline.sources.posetrack import POSETRACK_KEYPOINTS, PoseTrackVideoSource, coco_from_named

from .reading import items_by_record, read_all


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pt")
    make_posetrack(root, np.random.default_rng(0))
    return root


def _json(world, name="000101_sample_train"):
    return json.loads((world / "posetrack" / "annotations" / "train" / f"{name}.json").read_text())


def test_joint_names_map_by_name_not_by_position():
    assert POSETRACK_KEYPOINTS == POSETRACK_JOINTS  # the sample writes the real order
    kp = [float(v) for j in range(17) for v in (10 * j, 10 * j + 1, 2)]  # joint j at (10j, 10j + 1)
    coco = np.array(coco_from_named(kp, list(POSETRACK_KEYPOINTS))).reshape(17, 3)
    for c, name in enumerate(COCO_KEYPOINTS):
        if name in POSETRACK_KEYPOINTS:
            j = POSETRACK_KEYPOINTS.index(name)
            assert coco[c].tolist() == [10 * j, 10 * j + 1, 2], name
        else:  # the eyes: PoseTrack has none; its positions 1, 2 are head_bottom / head_top
            assert coco[c].tolist() == [0, 0, 0], name
    positional = np.array(kp).reshape(17, 3)
    assert positional[COCO_KEYPOINTS.index("left_eye")].tolist() == [10, 11, 2]  # what a position mapping would draw
    # The OpenPose skeleton the renderer draws: eyes absent, neck = shoulders' midpoint.
    op = coco_to_openpose(coco, 1000, 1000)
    assert op[14, 2] == op[15, 2] == 0 and op[1].tolist() == [55, 56, 1]


def test_a_file_listing_its_joints_in_another_order_gives_the_same_people(world, tmp_path):
    data = _json(world)
    perm = np.random.default_rng(1).permutation(17)
    data["categories"][0]["keypoints"] = [POSETRACK_KEYPOINTS[i] for i in perm]
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        ann["keypoints"] = kp[perm].ravel().tolist()
    target = tmp_path / "posetrack"
    (target / "annotations" / "train").mkdir(parents=True)
    (target / "images").symlink_to(world / "posetrack" / "images")
    (target / "annotations" / "train" / "000101_sample_train.json").write_text(json.dumps(data))
    permuted = items_by_record(read_all(PoseTrackVideoSource(path=str(target)), name="pt"), rejects_allowed=False)
    original = items_by_record(read_all(PoseTrackVideoSource(path=str(world / "posetrack")), name="pt"))
    a, b = permuted["train/000101_sample_train"], original["train/000101_sample_train"]
    assert [f.meta["annotations"] for f in a] == [f.meta["annotations"] for f in b]
    assert [f.image.id for f in a] == [f.image.id for f in b]


def test_clips_cover_labelled_frames_and_carry_every_person(world):
    outs = read_all(PoseTrackVideoSource(path=str(world / "posetrack")), name="pt")
    got = items_by_record(outs)
    assert sorted(got) == ["train/000101_sample_train", "train/000102_sample_train"]
    for record, frames in got.items():
        data = _json(world, record.split("/")[1])
        labelled = sorted(i["file_name"] for i in data["images"] if i["is_labeled"])
        m = frames[0].meta
        assert len(frames) == 8 and m["stride"] in (1, 2) and m["n_frames"] == len(labelled)
        assert [f.meta["frame"] for f in frames] == [labelled[m["start"] + m["stride"] * k] for k in range(8)]
        people = 2 if record.endswith("101_sample_train") else 1
        for f in frames:
            assert len(f.meta["annotations"]) == people
            assert {p["track_id"] for p in f.meta["annotations"]} == set(range(people))
            drawn = OpenPoseRenderer().render(f)
            assert drawn.shape == f.image.pixels.shape and drawn.any()
    (bad,) = [o for o in outs if not hasattr(o, "image")]
    assert (bad.record, bad.reason) == ("train/000103_sample_train", "bad_annotation")
    assert bad.detail == (
        "annotations/train/000103_sample_train.json: annotations[0].keypoints: expected 51 numbers (17 joints)"
    )


@pytest.mark.parametrize(
    ("content", "reason", "detail"),
    [
        (b"{not json", "bad_annotation", "Expecting property name"),
        (b'{"images": [], "annotations": [], "categories": [{"keypoints": ["a", "b"]}]}', "bad_annotation",
         "categories[0].keypoints: no joint name shared with COCO's"),
        (b'{"images": [{"id": 1}], "annotations": []}', "bad_annotation", "images[0]: no file_name or id"),
    ],
)
def test_malformed_files_are_rejects_naming_the_field(tmp_path, content, reason, detail):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "v.json").write_bytes(content)
    (out,) = read_all(PoseTrackVideoSource(path=str(tmp_path)))
    assert (out.record, out.reason) == ("v", reason) and detail in out.detail and "annotations/v.json" in out.detail


def test_a_file_name_leaving_the_dataset_is_refused(world, tmp_path):
    data = _json(world)
    for img in data["images"]:
        img["file_name"] = "../../etc/" + img["file_name"]
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "v.json").write_text(json.dumps(data))
    (out,) = read_all(PoseTrackVideoSource(path=str(tmp_path)))
    assert out.reason == "unsafe_path" and "points outside the dataset" in out.detail


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(PoseTrackVideoSource, tmp_dir=tmp_path, fresh_process=False)
