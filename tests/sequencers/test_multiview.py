"""multiview_shots: LVM's CO3D sequence layout within 16 images (2 shots of 4 frames + 4 masks),
one sequence per annotation view, shots never across categories, nothing left out."""

from __future__ import annotations

import numpy as np
import pytest

from uvd_pipeline.sequencers.multiview import MultiviewShotsSequencer
from uvd_pipeline.testing.examples.inputs import example_clip
from uvd_pipeline.types import Reject


def capture(name: str, start: int = 0, stride: int = 2, n: int = 4, views=("masks", "depth_masks")):
    frames = example_clip(name, start, stride, n, views=views)
    for f in frames:
        f.meta["category"] = name.split("/")[0]
    return frames


def build(items, **params):
    return list(MultiviewShotsSequencer(**params).build(items, np.random.default_rng(0)))


def test_two_shots_of_frames_then_masks_one_sequence_per_view():
    a, b = capture("bear/a", 0), capture("bear/b", 3, 1)
    seqs = build(a + b)
    assert [s.provenance["view"] for s in seqs] == ["masks", "depth_masks"]
    for s in seqs:
        view = s.provenance["view"]
        want = [f.image.id for f in a] + [f.views[view].id for f in a] + [f.image.id for f in b] + [f.views[view].id for f in b]
        assert s.image_ids == want and len(s.images) == 16
        assert s.records == ["bear/a", "bear/b"] and s.provenance["captures"] == ["bear/a", "bear/b"]
        assert s.provenance["frame_indices"] == [[0, 2, 4, 6], [3, 4, 5, 6]] and s.provenance["strides"] == [2, 1]


def test_groups_never_mix_categories_and_a_last_short_group_is_kept():
    items = capture("bear/a") + capture("bear/b") + capture("bear/c") + capture("cup/d")
    seqs = build(items, views=["masks"])
    assert [s.provenance["captures"] for s in seqs] == [["bear/a", "bear/b"], ["bear/c"], ["cup/d"]]
    assert [len(s.images) for s in seqs] == [16, 8, 8]
    assert {s.provenance["category"] for s in seqs[:2]} == {"bear"}


def test_over_sixteen_images_and_missing_views_are_rejects():
    long = build(capture("bear/a", n=8) + capture("bear/b", n=8))
    assert {(r.record, r.reason) for r in long} == {("bear/a", "too_many_images"), ("bear/b", "too_many_images")}
    assert "2 shots make 32 images, over 16" in long[0].detail
    assert len(build(capture("bear/a", n=8))) == 2  # one shot of 8 + 8 fits
    broken = capture("bear/a")
    del broken[1].views["depth_masks"]
    (r,) = build(broken)
    assert isinstance(r, Reject) and r.reason == "missing_view"
    (seq,) = build(broken, views=["masks"])  # asking for the view it has
    assert seq.provenance["view"] == "masks"


def test_predict_counts_groups_and_views():
    seq = MultiviewShotsSequencer()
    assert seq.predict(5, {"frames": 4}) == (3 * 2, 5 * 8 * 2)
    assert MultiviewShotsSequencer(shots=1, views=["masks"]).predict(5, {"frames": 4}) == (5, 5 * 8)


def test_shots_is_bounded():
    with pytest.raises(Exception, match="shots"):
        MultiviewShotsSequencer(shots=0)


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_sequencer

    check_sequencer(MultiviewShotsSequencer, tmp_dir=tmp_path, fresh_process=False)
