import numpy as np
import pytest

from uvd_pipeline.errors import BadInput
from uvd_pipeline.renderers.openpose import (
    COCO_KEYPOINTS,
    COLOURS,
    LIMBS,
    OPENPOSE_KEYPOINTS,
    OpenPoseRenderer,
    coco_to_openpose,
    draw_openpose,
)
from uvd_pipeline.types import Image, Item

from .golden import check_golden

# A person in a 120 x 160 image, COCO order (x, y).
POSE = np.array([
    [60, 20], [64, 17], [56, 17], [69, 20], [51, 20], [78, 40], [42, 40], [86, 62], [34, 62],
    [90, 84], [30, 84], [72, 88], [48, 88], [74, 118], [46, 118], [76, 148], [44, 148],
], dtype=np.float64)  # fmt: skip


def _person(pose=POSE, visible=None):
    v = np.full(17, 2.0) if visible is None else np.asarray(visible, dtype=np.float64)
    return np.column_stack([pose, v])


def test_openpose_golden():
    second = _person(POSE * 0.5 + [5, 70])
    second[COCO_KEYPOINTS.index("left_shoulder"), 2] = 0  # no neck for this one
    second[COCO_KEYPOINTS.index("right_wrist")] = [-5, 90, 2]  # outside the image: skipped
    check_golden("openpose", draw_openpose([_person(), second], 120, 160))


def test_coco_to_openpose_mapping_and_neck():
    op = coco_to_openpose(_person(), 120, 160)
    assert op.shape == (18, 3)
    for j, name in enumerate(OPENPOSE_KEYPOINTS):
        if name != "neck":
            assert op[j, :2].tolist() == POSE[COCO_KEYPOINTS.index(name)].tolist(), name
    assert op[1].tolist() == [60.0, 40.0, 1.0]  # midpoint of (78, 40) and (42, 40)
    assert len(LIMBS) == 17 and len(COLOURS) == 18


def test_neck_needs_both_shoulders_and_invisible_or_outside_points_are_dropped():
    p = _person()
    p[COCO_KEYPOINTS.index("right_shoulder"), 2] = 0
    p[COCO_KEYPOINTS.index("nose")] = [500, 20, 2]
    op = coco_to_openpose(p, 120, 160)
    assert op[1, 2] == 0 and op[0, 2] == 0 and op[2, 2] == 0
    assert op[5, 2] == 1


def test_skeleton_is_on_black_with_openpose_colours():
    canvas = draw_openpose([_person()], 120, 160)
    assert canvas.shape == (160, 120, 3)
    assert canvas[0, 0].tolist() == [0, 0, 0] and canvas[159, 119].tolist() == [0, 0, 0]
    x, y = POSE[COCO_KEYPOINTS.index("left_ankle")].astype(int)
    assert tuple(canvas[y + 2, x]) == COLOURS[OPENPOSE_KEYPOINTS.index("left_ankle")]  # joint dot beyond the limb tip
    present = {tuple(c) for c in canvas.reshape(-1, 3).tolist()}
    assert len(present) > 18  # joints plus blended limbs


def test_an_offimage_keypoint_draws_nothing_there():
    p = _person()
    p[COCO_KEYPOINTS.index("right_wrist")] = [119.5, 159.5, 2]  # inside, at the corner
    inside = draw_openpose([p], 120, 160)
    p[COCO_KEYPOINTS.index("right_wrist")] = [125, 165, 2]  # outside
    outside = draw_openpose([p], 120, 160)
    assert inside[150:, 110:].any() and not outside[150:, 110:].any()


def test_renderer_reads_meta_and_skips_people_without_visible_points():
    meta = {"annotations": [
        {"id": 1, "keypoints": _person().ravel().tolist()},
        {"id": 2, "keypoints": [0.0] * 51},
        {"id": 3, "bbox": [1, 1, 2, 2]},
    ]}
    item = Item("r", Image("i", np.full((160, 120, 3), 200, np.uint8)), meta=meta)
    assert np.array_equal(OpenPoseRenderer().render(item), draw_openpose([_person()], 120, 160))
    assert OpenPoseRenderer().render(Item("r", item.image, meta={"annotations": meta["annotations"][1:]})) is None
    with pytest.raises(BadInput):
        OpenPoseRenderer().render(Item("r", item.image, meta={"annotations": [{"id": 4, "keypoints": [1, 2, 2]}]}))
