"""CO3D-style captures: units per category, LVM's frame subsampling, masks matched by file stem,
too-short and unmatched captures as rejects."""

from __future__ import annotations

import numpy as np
import pytest

from uvd_pipeline.ids import bytes_id, rng_for
from uvd_pipeline.samples.captures import CO3D_CAPTURES, make_multiview
from uvd_pipeline.sources.multiview import MultiviewCaptureSource, plan_capture

from .reading import items_by_record, read_all


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("mv")
    make_multiview(root, np.random.default_rng(0))
    return root / "multiview"


def lvm_subsample(length: int, n_frames: int, max_stride: int, rng: np.random.Generator) -> list[int]:
    """LVM's `randomly_subsample_frame_indices` from its documented behaviour: stride uniform in
    [1, min((length - 1) // (n_frames - 1), max_stride)], start uniform, random_start on."""
    stride = int(rng.integers(1, min((length - 1) // (n_frames - 1), max_stride) + 1))
    start = int(rng.integers(0, length - (n_frames - 1) * stride))
    return [start + k * stride for k in range(n_frames)]


def test_frames_are_subsampled_as_the_lvm_co3d_script_does():
    for n in (4, 5, 9, 13, 40):
        for s in range(40):
            clip = plan_capture(n, 4, 4, rng_for("c", n, s))
            assert clip.indices == lvm_subsample(n, 4, 4, rng_for("c", n, s))
    strides = {plan_capture(40, 4, 4, rng_for("d", s)).stride for s in range(60)}
    assert strides == {1, 2, 3, 4}  # max_stride caps a long capture
    assert {plan_capture(7, 4, 4, rng_for("e", s)).stride for s in range(40)} == {1, 2}  # (7 - 1) // 3
    assert plan_capture(3, 4, 4, rng_for("f")) is None


def test_units_hold_one_category_and_items_carry_their_masks(world):
    src = MultiviewCaptureSource(path=str(world), captures_per_unit=2)
    units = src.units()
    assert [(u["category"], [c["capture"] for c in u["captures"]]) for u in units] == [
        ("hydrant", ["hydrant/201_3", "hydrant/202_5"]),
        ("teddybear", ["teddybear/101_1", "teddybear/102_7"]),
        ("teddybear", ["teddybear/103_2"]),
    ]
    outs = read_all(src, name="mv")
    got = items_by_record(outs)
    assert sorted(got) == ["hydrant/201_3", "teddybear/101_1", "teddybear/102_7"]
    lengths = {f"{c}/{s}": n for c, s, n in CO3D_CAPTURES}
    for record, frames in got.items():
        m = frames[0].meta
        assert m["category"] == record.split("/")[0] and m["n_frames"] == lengths[record]
        assert [f.meta["frame_index"] for f in frames] == [m["start"] + m["stride"] * k for k in range(4)]
        for f in frames:
            stem = f.meta["frame"].removesuffix(".jpg")
            assert f.image.id == bytes_id((world / record / "images" / f.meta["frame"]).read_bytes())
            assert f.views["masks"].id == bytes_id((world / record / "masks" / f"{stem}.png").read_bytes())
            assert f.views["depth_masks"].id == bytes_id((world / record / "depth_masks" / f"{stem}.png").read_bytes())
            mask = f.views["masks"].pixels
            assert mask.shape == f.image.pixels.shape and (mask[..., 0] == mask[..., 1]).all() and mask.any()
    reasons = {o.record: (o.reason, o.detail) for o in outs if not hasattr(o, "image")}
    assert reasons["hydrant/202_5"] == ("video_too_short", "hydrant/202_5: 3 frames in images/, a capture needs 4")
    assert reasons["teddybear/103_2"][0] == "missing_annotation" and "no masks/frame0000" in reasons["teddybear/103_2"][1]


def test_annotation_folders_are_a_parameter(world):
    got = items_by_record(read_all(MultiviewCaptureSource(path=str(world), annotations=["depth_masks"])))
    assert "teddybear/103_2" in got  # its depth masks are complete
    assert all(set(f.views) == {"depth_masks"} for frames in got.values() for f in frames)


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(MultiviewCaptureSource, tmp_dir=tmp_path, fresh_process=False)
