"""Frames of one clip -> one visual sequence, in frame order (unlabelled videos).

The video sources (sources/video.py, sources/frame_folder.py) choose the stride and start where they
decode and tag each frame with meta {video, video_id, frame_index, stride, start, clip_length}. This
sequencer groups the frames of each clip in the order given, checks that they are exactly
start, start + stride, ..., clip_length of them, and writes the frame indices, stride and start
into the sequence's provenance (so the manifest shows which frames were used); `stride` is the
stride actually used, and `stride_drawn` (when the source shrank a stride to fit a short video,
sources/video.py `short_video`) the one drawn before. split_key = the
video's id: every clip of a video falls in the same split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..stages import Sequencer
from ..types import Item, Reject, VisualSequence

REQUIRED_META = ("video", "video_id", "frame_index", "stride", "start", "clip_length")
PROVENANCE_META = ("n_frames", "fps", "stride_drawn")


def group_clips(items: list[Item]) -> tuple[dict[tuple, list[Item]], list[Reject]]:
    """Items grouped by (video, start, stride) in arrival order; items without clip meta rejected."""
    clips: dict[tuple, list[Item]] = {}
    rejects = []
    for item in items:
        missing = [k for k in REQUIRED_META if k not in item.meta]
        if missing:
            rejects.append(
                Reject(item.record, "not_a_video_frame", f"meta lacks {', '.join(missing)} (use a video source)")
            )
            continue
        m = item.meta
        clips.setdefault((m["video"], m["start"], m["stride"]), []).append(item)
    return clips, rejects


def check_clip(frames: list[Item]) -> str:
    """'' when the frames are the whole clip in order, else what is wrong."""
    m = frames[0].meta
    expected = [m["start"] + k * m["stride"] for k in range(m["clip_length"])]
    got = [f.meta["frame_index"] for f in frames]
    if got != expected:
        return (
            f"frame indices {got} do not follow start {m['start']} and stride {m['stride']} ({m['clip_length']} frames)"
        )
    return ""


def clip_provenance(frames: list[Item]) -> dict:
    m = frames[0].meta
    prov = {
        "video": m["video"],
        "video_id": m["video_id"],
        "frame_indices": [f.meta["frame_index"] for f in frames],
        "stride": m["stride"],
        "start": m["start"],
    }
    prov.update({k: m[k] for k in PROVENANCE_META if k in m})
    return prov


class VideoClipSequencer(Sequencer):

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """One clip per video: `frames` images each (the video source's parameter, default 16)."""
        frames = int((source_params or {}).get("frames", 16))
        return n_records, n_records * frames

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        clips, rejects = group_clips(items)
        yield from rejects
        for (video, _, _), frames in clips.items():
            problem = check_clip(frames)
            if problem:
                yield Reject(frames[0].record, "broken_clip", f"{video}: {problem}")
                continue
            yield VisualSequence(
                images=[f.image for f in frames],
                task="",
                records=list(dict.fromkeys(f.record for f in frames)),
                provenance=clip_provenance(frames),
                split_key=frames[0].meta["video_id"],
            )
