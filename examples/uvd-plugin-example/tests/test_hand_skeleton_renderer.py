"""The hand_skeleton renderer: conformance, colours and geometry of the drawing, malformed hands."""

from __future__ import annotations

import numpy as np
import pytest

from uvd_pipeline import registry
from uvd_pipeline.errors import BadInput
from uvd_pipeline.testing import check_renderer, sample_item
from uvd_plugin_example.hand import BONE_COLOURS, BONES, KEYPOINT_NAMES, N_KEYPOINTS
from uvd_plugin_example.renderer import WRIST_COLOUR, HandSkeletonRenderer


def straight_hand(v: int = 2) -> list[list[float]]:
    """Wrist at (50, 90); each finger a vertical line of 4 joints 10 px apart."""
    kps = [[50.0, 90.0, v]]
    for f in range(5):
        x = 20.0 + 15 * f
        kps += [[x, 70.0 - 10 * j, v] for j in range(4)]
    return kps


def item_with(kps, size=(100, 100)):
    return sample_item(0, size, meta={"hands": [{"side": "right", "keypoints": kps}]})


def test_registered_through_its_entry_point():
    assert registry.load("renderer", "hand_skeleton") is HandSkeletonRenderer


def test_conformance(tmp_path):
    check_renderer(HandSkeletonRenderer, tmp_dir=tmp_path)


def test_layout_has_21_named_points_and_20_bones_in_finger_chains():
    assert len(KEYPOINT_NAMES) == N_KEYPOINTS and KEYPOINT_NAMES[0] == "wrist" and KEYPOINT_NAMES[4] == "thumb_tip"
    assert len(BONES) == 20 and BONES[:4] == ((0, 1), (1, 2), (2, 3), (3, 4)) and BONES[-1] == (19, 20)
    assert len(set(BONE_COLOURS)) == 20 and BONE_COLOURS[0] == (255, 0, 0)


def test_bones_are_drawn_in_their_colours_on_black():
    drawn = HandSkeletonRenderer(line_width=2).render(item_with(straight_hand()))
    assert drawn.shape == (100, 100, 3) and drawn.dtype == np.uint8
    assert tuple(drawn[5, 5]) == (0, 0, 0)  # background
    assert tuple(drawn[90, 50]) == WRIST_COLOUR
    # the middle finger (f=2) runs x=50 from y=70 to y=40: bone 9 (joint 9->10) is between y=70 and y=60
    assert tuple(drawn[65, 50]) == BONE_COLOURS[BONES.index((9, 10))]
    assert tuple(drawn[45, 80]) == BONE_COLOURS[BONES.index((19, 20))]  # little finger's last bone


def test_unlabelled_occluded_and_outside_keypoints():
    kps = straight_hand()
    kps[20] = [0.0, 0.0, 0]  # unlabelled little fingertip: its bone is not drawn
    kps[10] = [50.0, 60.0, 1]  # occluded middle joint
    kps[4] = [500.0, 40.0, 2]  # thumb tip outside the image
    all_labelled = HandSkeletonRenderer(line_width=2).render(item_with(kps))
    visible_only = HandSkeletonRenderer(line_width=2, min_visibility=2).render(item_with(kps))
    assert tuple(all_labelled[45, 80]) == (0, 0, 0)
    assert tuple(all_labelled[65, 50]) != (0, 0, 0) and tuple(visible_only[65, 50]) == (0, 0, 0)
    assert not all_labelled[:, 96:].any()  # nothing drawn towards the outside point


def test_draws_at_native_resolution_and_scales_the_line():
    thin = HandSkeletonRenderer().render(item_with(straight_hand(), (100, 100)))
    kps = [[x * 4, y * 4, v] for x, y, v in straight_hand()]
    thick = HandSkeletonRenderer().render(item_with(kps, (400, 400)))
    assert thick.shape == (400, 400, 3)
    assert (thick.any(axis=2).sum() / thin.any(axis=2).sum()) > 10  # ~4x longer and ~4x wider lines


def test_no_hands_no_view_and_malformed_hands_raise_bad_input():
    assert HandSkeletonRenderer().render(sample_item(0)) is None
    for meta in ({"hands": [{"keypoints": straight_hand()[:20]}]}, {"hands": [{"keypoints": [[1, 2, 5]] * 21}]}, {"hands": 3}):
        with pytest.raises(BadInput, match="bad_keypoints"):
            HandSkeletonRenderer().render(sample_item(0, meta=meta))
