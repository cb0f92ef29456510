"""annotated_video: both of the paper's orders, the annotation view chosen by name, broken clips."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.sequencers.annotated_video import AnnotatedVideoSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence


def frames(video: str = "v", start: int = 2, stride: int = 1, n: int = 8, views=("openpose",)) -> list[Item]:
    out = []
    for k in range(n):
        i = start + k * stride
        meta = {
            "video": video,
            "video_id": f"id-{video}",
            "frame_index": i,
            "frame": f"{i:05d}.png",
            "stride": stride,
            "start": start,
            "clip_length": n,
        }
        px = np.full((256, 256, 3), i, np.uint8)
        item = Item(video, Image(f"f{i}", px), meta)
        item.views = {name: Image(f"{name}{i}", 255 - px) for name in views}
        out.append(item)
    return out


def build(items, **params):
    return list(AnnotatedVideoSequencer(**params).build(items, np.random.default_rng(0)))


def test_interleaved_order_is_f1_a1_f2_a2():
    (seq,) = build(frames())
    assert isinstance(seq, VisualSequence) and len(seq.images) == 16
    assert seq.image_ids == [x for i in range(2, 10) for x in (f"f{i}", f"openpose{i}")]
    assert seq.provenance["frame_indices"] == list(range(2, 10)) and seq.provenance["order"] == "interleaved"
    assert seq.provenance["annotation_view"] == "openpose" and seq.provenance["frames"][0] == "00002.png"
    assert seq.split_key == "id-v" and seq.records == ["v"]


def test_grouped_order_is_all_frames_then_all_annotations():
    (seq,) = build(frames(stride=3), order="grouped")
    idx = [2 + 3 * k for k in range(8)]
    assert seq.image_ids == [f"f{i}" for i in idx] + [f"openpose{i}" for i in idx]


def test_the_view_is_chosen_by_name_when_frames_carry_several():
    both = frames(views=("coco_boxes", "openpose"))
    (rejected,) = build(both)
    assert isinstance(rejected, Reject) and rejected.reason == "broken_clip" and "exactly one view" in rejected.detail
    (seq,) = build(both, view="coco_boxes")
    assert seq.image_ids[1] == "coco_boxes2"


def test_a_frame_without_its_annotation_or_a_gap_rejects_the_clip():
    missing = frames()
    missing[3].views = {}
    gap = frames("w")
    del gap[4]
    out = build(missing + gap)
    assert [(o.record, o.reason) for o in out] == [("v", "broken_clip"), ("w", "broken_clip")]
    assert "frame 00005.png has no annotation view" in out[0].detail


def test_clips_over_eight_frames_cannot_fit_and_the_order_is_validated():
    (out,) = build(frames(n=9))
    assert isinstance(out, Reject) and "use frames <= 8" in out.detail
    with pytest.raises(ValidationError):
        AnnotatedVideoSequencer(order="sideways")


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_sequencer

    check_sequencer(AnnotatedVideoSequencer, tmp_dir=tmp_path, fresh_process=False)
