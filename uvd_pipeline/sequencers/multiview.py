"""Frames of multi-view captures and their masks -> shots concatenated (CO3D-style, LVM's script).

LVM's CO3D script makes, for each group of `n_shots` consecutive captures, the sequence
{shot 1: f1..f4, m1..m4; shot 2: f1..f4, m1..m4; ...} once with the foreground masks and once with
the depth masks (its default of 4 shots makes 32 images; within the 16-image limit that is 2 shots
of 4 frames + 4 masks). Here:

- the frames of each capture come from `multiview_capture` (sources/multiview.py) with clip meta,
  checked as in `video_clip` (start, stride, all frames present);
- captures are taken in the order they arrive (the source's sorted order within one category) and
  grouped `shots` at a time (default 2), never across categories; a last, smaller group makes a
  shorter sequence (its shots), so no capture is left out;
- for each annotation view in `views` (default: those the frames carry, in the source's order,
  masks then depth masks) one sequence: every shot's frames, then its view images;
- a group whose sequence would exceed 16 images is a reject (`too_many_images`), as is a capture
  whose frames lack a view (`missing_view`).

Provenance: the captures, the category, the view, each shot's frame indices, stride and start.
The split key is the first capture's id (captures of a group share a split through their images).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..stages import Sequencer
from ..types import MAX_IMAGES_PER_SEQUENCE, Item, Reject, VisualSequence
from .video_clip import check_clip, group_clips


class MultiviewShotsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shots: int = Field(default=2, ge=1, le=8, description="captures per sequence (LVM's n_shots; 2 fit in 16)")
    views: list[str] | None = Field(default=None, description="annotation views, one sequence each; null: all")


class MultiviewShotsSequencer(Sequencer):
    Params = MultiviewShotsParams

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """One sequence per group of `shots` captures and view; each capture gives frames + frames."""
        sp = source_params or {}
        frames = int(sp.get("frames", 4))
        views = len(self.params.views or sp.get("annotations") or ["masks", "depth_masks"])
        groups = -(-n_records // self.params.shots)
        return groups * views, n_records * 2 * frames * views

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        clips, rejects = group_clips(items)
        yield from rejects
        good: list[list[Item]] = []
        for (capture, _, _), frames in clips.items():
            problem = check_clip(frames)
            if problem:
                yield Reject(frames[0].record, "broken_clip", f"{capture}: {problem}")
            else:
                good.append(frames)
        for group in self._groups(good):
            yield from self._sequences(group)

    def _groups(self, clips: list[list[Item]]) -> Iterator[list[list[Item]]]:
        group: list[list[Item]] = []
        for frames in clips:
            if group and (len(group) == self.params.shots or _category(group[0]) != _category(frames)):
                yield group
                group = []
            group.append(frames)
        if group:
            yield group

    def _sequences(self, group: list[list[Item]]) -> Iterator[VisualSequence | Reject]:
        records = [shot[0].record for shot in group]
        size = sum(2 * len(shot) for shot in group)
        if size > MAX_IMAGES_PER_SEQUENCE:
            for r in records:
                yield Reject(r, "too_many_images", f"{len(group)} shots make {size} images, over {MAX_IMAGES_PER_SEQUENCE}")
            return
        views = self.params.views or list(group[0][0].views)
        missing = [(shot[0].record, v) for shot in group for v in views if any(v not in f.views for f in shot)]
        if missing or not views:
            what = f"{missing[0][0]} has frames without {missing[0][1]!r}" if missing else "the frames carry no view"
            for r in records:
                yield Reject(r, "missing_view", f"{r}: views {views} wanted; {what}")
            return
        for view in views:
            images = [im for shot in group for im in [f.image for f in shot] + [f.views[view] for f in shot]]
            yield VisualSequence(
                images=images,
                task="",
                records=records,
                provenance={
                    "captures": records,
                    "category": _category(group[0]),
                    "view": view,
                    "frame_indices": [[f.meta["frame_index"] for f in shot] for shot in group],
                    "strides": [shot[0].meta["stride"] for shot in group],
                    "starts": [shot[0].meta["start"] for shot in group],
                },
                split_key=group[0][0].meta["video_id"],
            )


def _category(frames: list[Item]) -> str:
    return str(frames[0].meta.get("category", ""))
