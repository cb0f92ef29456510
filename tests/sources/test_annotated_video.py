"""Annotated videos: VIPSeg palette masks and JHMDB joints -> frames whose meta the image renderers
draw; seeded clips among annotated frames; missing and malformed annotations as rejects."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

cv2 = pytest.importorskip("cv2")
scipy_io = pytest.importorskip("scipy.io")

from uvd_pipeline.ids import bytes_id  # noqa: E402
from uvd_pipeline.renderers.dense import SegmentationMapRenderer  # noqa: E402
from uvd_pipeline.renderers.openpose import OpenPoseRenderer  # noqa: E402
from uvd_pipeline.renderers.palette import colours_to_ids  # noqa: E402
from uvd_pipeline.samples.videos import make_jhmdb, make_vipseg  # noqa: E402
from uvd_pipeline.sources.annotated_video import JhmdbVideoSource, VipsegVideoSource, jhmdb_to_coco  # noqa: E402

from .reading import items_by_record, read_all, reject_reasons  # noqa: E402
from .videos import assert_follows_stride  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("annotated")
    rng = np.random.default_rng(7)
    make_vipseg(root, rng)
    make_jhmdb(root, rng)
    return root


def test_vipseg_frames_carry_their_palette_masks_for_the_segmentation_renderer(world):
    got = items_by_record(read_all(VipsegVideoSource(path=str(world / "vipseg"))))
    assert sorted(got) == ["001_clip", "002_clip", "003_broken_mask"]
    renderer = SegmentationMapRenderer()
    for video, frames in got.items():
        assert len(frames) == 8
        assert_follows_stride(frames, 8)
        for f in frames:
            mask_path = world / "vipseg" / "panomasks" / f.meta["mask_file"]
            assert f.meta["maps"]["segmentation"] == str(mask_path)
            assert f.image.id == bytes_id((world / "vipseg" / "imgs" / video / f.meta["frame"]).read_bytes())
            if video != "003_broken_mask":
                ids = np.asarray(Image.open(mask_path))
                assert np.array_equal(colours_to_ids(renderer.render(f)), ids)
    # 003 has 12 frames and 11 masks: the unmasked frame is not a candidate.
    assert got["003_broken_mask"][0].meta["n_frames"] == 11


def test_jhmdb_joints_become_coco_keypoints_for_the_openpose_renderer(world):
    got = items_by_record(read_all(JhmdbVideoSource(path=str(world / "jhmdb"))))
    assert sorted(got) == ["jump/person_01", "wave/person_00"]
    pos = scipy_io.loadmat(world / "jhmdb" / "joint_positions" / "wave" / "person_00" / "joint_positions.mat")[
        "pos_img"
    ]
    renderer = OpenPoseRenderer()
    for f in got["wave/person_00"]:
        i = f.meta["frame_index"]
        assert f.meta["frame"] == f"{i + 1:05d}.png"
        kp = np.asarray(f.meta["annotations"][0]["keypoints"]).reshape(17, 3)
        assert np.allclose(kp[5, :2], pos[:, 4, i]) and np.allclose(kp[6, :2], pos[:, 3, i])  # shoulders
        assert np.allclose(kp[0, :2], pos[:, 2, i])  # nose <- face
        assert (kp[1:5, 2] == 0).all() and (kp[5:, 2] == 2).all()  # no eyes/ears in JHMDB
        drawn = renderer.render(f)
        assert drawn.shape == f.image.pixels.shape and drawn.any()


def test_jhmdb_to_coco_maps_every_joint_by_name():
    xy = np.vstack([np.arange(15) * 10.0, np.arange(15) * 10.0 + 1])
    kp = np.asarray(jhmdb_to_coco(xy)).reshape(17, 3)
    # COCO left_wrist (9) <- JHMDB left_wrist (12); right_ankle (16) <- right_ankle (13)
    assert tuple(kp[9]) == (120.0, 121.0, 2.0) and tuple(kp[16]) == (130.0, 131.0, 2.0)
    xy[:, 0] = np.nan  # the neck is not a COCO keypoint: nothing changes
    assert jhmdb_to_coco(xy) == list(kp.reshape(-1))


def test_jhmdb_missing_broken_or_mismatched_joint_files_are_rejects(world, tmp_path):
    import shutil

    shutil.copytree(world / "jhmdb", tmp_path / "jhmdb")
    joints = tmp_path / "jhmdb" / "joint_positions"
    (joints / "jump" / "person_01" / "joint_positions.mat").write_bytes(b"MATLAB 5.0 but nothing else")
    mat = scipy_io.loadmat(joints / "wave" / "person_00" / "joint_positions.mat")
    scipy_io.savemat(joints / "wave" / "person_00" / "joint_positions.mat", {"pos_img": mat["pos_img"][:, :, :20]})
    (joints / "ghost" / "v").mkdir(parents=True)
    scipy_io.savemat(joints / "ghost" / "v" / "joint_positions.mat", {"pos_img": np.zeros((2, 15, 3))})
    assert reject_reasons(read_all(JhmdbVideoSource(path=str(tmp_path / "jhmdb")))) == {
        "ghost/v": "missing_frames",
        "jump/person_01": "bad_annotation",
        "wave/no_joints": "missing_annotation",
        "wave/person_00": "annotation_mismatch",
    }


@pytest.mark.parametrize("cls", [VipsegVideoSource, JhmdbVideoSource])
def test_passes_the_plugin_conformance_suite(cls, tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(cls, tmp_dir=tmp_path, fresh_process=False)
