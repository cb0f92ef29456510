"""MMPose pseudo-labels. The model tests run only where the `pose` extra is installed (see
docs/POSE.md); they build a small top-down model config and save seeded random weights, so
nothing is downloaded."""


import numpy as np
import pytest

from uvd_pipeline import registry
from uvd_pipeline.estimators.mmpose import MMPoseEstimator, mmpose_available, person_boxes
from uvd_pipeline.types import Image, Item

HAVE_MMPOSE = mmpose_available()
needs_mmpose = pytest.mark.skipif(
    not HAVE_MMPOSE, reason="mmpose is not installed (extra 'pose'; docs/POSE.md has a CPU install recipe)"
)


def test_person_boxes_come_from_person_annotations():
    meta = {"annotations": [
        {"id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
        {"id": 2, "category_id": 3, "bbox": [0, 0, 5, 5]},
        {"id": 3, "category_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1},
    ]}
    assert person_boxes(meta, 1).tolist() == [[10, 20, 40, 60]]
    assert person_boxes({"annotations": []}, 1) is None


def test_the_plugin_is_registered_and_imports_without_mmpose():
    cls = registry.load("renderer", "mmpose_pose")
    assert cls is MMPoseEstimator and cls.needs_gpu


@pytest.mark.skipif(HAVE_MMPOSE, reason="mmpose is installed: the missing-extra message cannot show")
def test_without_mmpose_setup_says_how_to_install(tmp_path):
    est = MMPoseEstimator(config=str(tmp_path / "c.py"), checkpoint=str(tmp_path / "w.pth"), device="cpu")
    with pytest.raises(ImportError, match="docs/POSE.md"):
        est.setup()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny 17-keypoint top-down model with seeded random weights (the conformance example's)."""
    from uvd_pipeline.testing.examples.models import write_tiny_mmpose_model

    return write_tiny_mmpose_model(tmp_path_factory.mktemp("mmpose"))


@needs_mmpose
def test_mmpose_predicts_17_keypoints_per_person_box_and_draws_openpose(tiny_model):
    config, checkpoint = tiny_model
    est = MMPoseEstimator(config=config, checkpoint=checkpoint, device="cpu", score_threshold=0.0)
    est.setup()
    half = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    pixels = np.concatenate([half, half], axis=1)  # the right half repeats the left half
    meta = {"annotations": [{"id": 1, "category_id": 1, "bbox": [30, 30, 40, 60]},
                            {"id": 2, "category_id": 1, "bbox": [150, 30, 40, 60]},
                            {"id": 3, "category_id": 3, "bbox": [0, 0, 240, 120]}]}  # not a person
    item = Item("r", Image("i", pixels), meta=meta)
    people = est.predict(pixels, item)
    assert len(people) == 2 and all(p.shape == (17, 3) for p in people)
    # Same crop content 120 px apart: the model sees the same input, so the skeletons are 120 px apart.
    assert np.allclose(people[1][:, :2] - people[0][:, :2], [120, 0], atol=1e-3)
    assert set(np.unique(people[0][:, 2]).tolist()) <= {0.0, 2.0}  # visible when the score passes the threshold
    assert np.array_equal(people[0][:, 2], people[1][:, 2])
    out = est.render(item)
    assert out.shape == (120, 240, 3) and out.any()
    whole = MMPoseEstimator(config=config, checkpoint=checkpoint, device="cpu", boxes="whole_image", score_threshold=0.0)
    whole.setup()
    assert len(whole.predict(pixels, item)) == 1


@needs_mmpose
def test_a_high_threshold_leaves_no_visible_keypoint_and_no_view(tiny_model):
    config, checkpoint = tiny_model
    est = MMPoseEstimator(config=config, checkpoint=checkpoint, device="cpu", score_threshold=1.0)
    est.setup()
    item = Item("r", Image("i", np.zeros((64, 48, 3), np.uint8)))
    assert est.render(item) is None
