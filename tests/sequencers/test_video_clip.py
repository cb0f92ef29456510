"""video_clip: one sequence per clip, frame indices in provenance, broken clips rejected."""

from __future__ import annotations

import numpy as np

from uvd_pipeline.sequencers.video_clip import VideoClipSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence


def frame(video: str, index: int, start: int, stride: int, length: int = 16) -> Item:
    meta = {
        "video": video,
        "video_id": f"id-{video}",
        "frame_index": index,
        "stride": stride,
        "start": start,
        "clip_length": length,
        "n_frames": 500,
        "fps": 25.0,
    }
    return Item(video, Image(f"{video}:{index}", np.full((256, 256, 3), index % 256, np.uint8)), meta)


def clip(video: str, start: int, stride: int, length: int = 16) -> list[Item]:
    return [frame(video, start + k * stride, start, stride, length) for k in range(length)]


def build(items):
    return list(VideoClipSequencer().build(items, np.random.default_rng(0)))


def test_one_sequence_per_clip_with_its_frame_indices():
    out = build(clip("a.mp4", 7, 20) + clip("b.avi", 0, 10))
    assert all(isinstance(s, VisualSequence) for s in out) and len(out) == 2
    a, b = out
    assert a.image_ids == [f"a.mp4:{7 + 20 * k}" for k in range(16)] and a.records == ["a.mp4"]
    assert a.provenance == {
        "video": "a.mp4",
        "video_id": "id-a.mp4",
        "frame_indices": [7 + 20 * k for k in range(16)],
        "stride": 20,
        "start": 7,
        "n_frames": 500,
        "fps": 25.0,
    }
    assert a.split_key == "id-a.mp4" and b.provenance["frame_indices"] == list(range(0, 160, 10))


def test_a_clip_with_a_missing_or_misplaced_frame_is_rejected():
    gap = clip("gap.mp4", 0, 10)
    del gap[5]
    swapped = clip("swap.mp4", 3, 30)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    out = build(gap + swapped + clip("ok.mp4", 1, 10))
    rejects = [o for o in out if isinstance(o, Reject)]
    assert [(r.record, r.reason) for r in rejects] == [("gap.mp4", "broken_clip"), ("swap.mp4", "broken_clip")]
    assert "do not follow start 0 and stride 10" in rejects[0].detail
    assert [s.records for s in out if isinstance(s, VisualSequence)] == [["ok.mp4"]]


def test_items_that_are_not_video_frames_are_rejected():
    stray = Item("x.jpg", Image("x", np.zeros((256, 256, 3), np.uint8)))
    (out,) = build([stray])
    assert isinstance(out, Reject) and out.reason == "not_a_video_frame" and "frame_index" in out.detail


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_sequencer

    check_sequencer(VideoClipSequencer, tmp_dir=tmp_path, fresh_process=False)
