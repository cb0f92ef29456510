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


def _two_people():
    second = _person(POSE * 0.5 + [5, 70])
    second[COCO_KEYPOINTS.index("left_shoulder"), 2] = 0  # no neck for this one
    second[COCO_KEYPOINTS.index("right_wrist")] = [-5, 90, 2]  # outside the image: skipped
    return [_person(), second]


def test_openpose_golden():
    """style: openpose is the drawing from before issue 15, unchanged (the golden is that one)."""
    check_golden("openpose", draw_openpose(_two_people(), 120, 160, style="openpose"))


def test_controlnet_golden():
    check_golden("openpose_controlnet", draw_openpose(_two_people(), 120, 160))


def _at(name):
    x, y = POSE[COCO_KEYPOINTS.index(name)].astype(int)
    return y, x


def test_controlnet_style_draws_full_colour_joints_over_limbs_at_sixty_percent():
    cn = draw_openpose([_person()], 120, 160, style="controlnet")
    op = draw_openpose([_person()], 120, 160, style="openpose")
    # A joint under its limbs: whole and at full colour in controlnet, tinted by the limbs in openpose.
    for name in ("left_elbow", "right_knee", "left_hip"):
        colour = np.array(COLOURS[OPENPOSE_KEYPOINTS.index(name)])
        assert cn[_at(name)].tolist() == colour.tolist(), name
        assert op[_at(name)].tolist() != colour.tolist(), name
    # Mid-limb, far from any joint: the limb's colour at 60 %, truncated (controlnet_aux's uint8 cast),
    # and the same colour as openpose's 60 % blend over black (rounded) up to that rounding.
    limb = LIMBS.index((OPENPOSE_KEYPOINTS.index("left_hip"), OPENPOSE_KEYPOINTS.index("left_knee")))
    y, x = ((POSE[COCO_KEYPOINTS.index("left_hip")] + POSE[COCO_KEYPOINTS.index("left_knee")]) / 2).astype(int)[::-1]
    expected = (np.array(COLOURS[limb]) * 0.6).astype(np.uint8)
    assert cn[y, x].tolist() == expected.tolist()
    assert np.abs(op[y, x].astype(int) - expected.astype(int)).max() <= 1
    # Every limb pixel is one of the 60 % colours; every full-colour pixel belongs to a joint dot.
    sixty = {tuple((np.array(c) * 0.6).astype(np.uint8).tolist()) for c in COLOURS[: len(LIMBS)]}
    present = {tuple(c) for c in cn.reshape(-1, 3).tolist()} - {(0, 0, 0)}
    assert present <= sixty | set(COLOURS)


def test_controlnet_style_lets_a_later_limb_cover_an_earlier_one():
    """Where two limbs cross, controlnet's opaque fill shows the later limb's colour alone;
    openpose's blending mixes both."""
    p = np.zeros((17, 3))
    for name, xy in (("right_shoulder", (20, 20)), ("left_shoulder", (100, 20)),
                     ("right_elbow", (100, 100)), ("left_elbow", (20, 100))):  # fmt: skip
        p[COCO_KEYPOINTS.index(name)] = (*xy, 2)
    cn = draw_openpose([p], 120, 160)
    op = draw_openpose([p], 120, 160, style="openpose")
    y, x = 60, 60  # the right upper arm (limb 2-3) and the left one (5-6) cross here
    later = LIMBS.index((5, 6))
    assert cn[y, x].tolist() == (np.array(COLOURS[later]) * 0.6).astype(np.uint8).tolist()
    earlier = LIMBS.index((2, 3))
    mixed = 0.4 * (0.6 * np.array(COLOURS[earlier])) + 0.6 * np.array(COLOURS[later])
    assert np.abs(op[y, x] - mixed).max() <= 1


def test_an_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style"):
        draw_openpose([_person()], 120, 160, style="mmpose")
    with pytest.raises(Exception, match="style"):
        OpenPoseRenderer(style="mmpose")


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
