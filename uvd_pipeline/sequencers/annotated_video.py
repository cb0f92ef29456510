"""Frames of an annotated clip and their annotation images -> one visual sequence (annotated videos).

The paper's two orders, chosen with `order`:

- `interleaved`: {f1, a1, f2, a2, ..., f8, a8}
- `grouped`:     {f1, f2, ..., f8, a1, a2, ..., a8}

The annotation image a_k is the view a renderer drew for frame f_k (named by `view`; by default the
one view the frames carry, e.g. `segmentation_map`, `openpose` or `coco_boxes`). The frames come
from an annotated-video source (sources/annotated_video.py) with clip meta, checked as in
`video_clip`: the positions must follow the clip's start and stride. A clip with a frame that has no
annotation view, or whose frames are not the whole clip, is a reject. 8 frames -> 16 images; the
sequence keeps the frame positions, the frames (files or numbers), the order and the view in its
provenance, and takes the video's id as split key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..stages import Sequencer
from ..types import MAX_IMAGES_PER_SEQUENCE, Item, Reject, VisualSequence
from .video_clip import check_clip, clip_provenance, group_clips


class AnnotatedVideoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: Literal["interleaved", "grouped"] = Field(
        default="interleaved", description="interleaved: f1 a1 f2 a2 ...; grouped: f1 f2 ... a1 a2 ..."
    )
    view: str | None = Field(default=None, description="the renderer whose view is the annotation; null: the only one")


class AnnotatedVideoSequencer(Sequencer):
    Params = AnnotatedVideoParams

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """One clip per video: `frames` (frame, annotation) pairs, 2 images each."""
        frames = int((source_params or {}).get("frames", 8))
        return n_records, n_records * 2 * frames

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        clips, rejects = group_clips(items)
        yield from rejects
        for (video, _, _), frames in clips.items():
            problem = check_clip(frames) or self._check_views(frames)
            if problem:
                yield Reject(frames[0].record, "broken_clip", f"{video}: {problem}")
                continue
            view = self._view_name(frames[0])
            annotations = [f.views[view] for f in frames]
            pictures = [f.image for f in frames]
            if self.params.order == "interleaved":
                images = [im for pair in zip(pictures, annotations) for im in pair]
            else:
                images = pictures + annotations
            provenance = clip_provenance(frames)
            provenance.update(
                {"frames": [f.meta.get("frame") for f in frames], "order": self.params.order, "annotation_view": view}
            )
            yield VisualSequence(
                images=images,
                task="",
                records=list(dict.fromkeys(f.record for f in frames)),
                provenance=provenance,
                split_key=frames[0].meta["video_id"],
            )

    def _view_name(self, item: Item) -> str | None:
        if self.params.view is not None:
            return self.params.view if self.params.view in item.views else None
        return next(iter(item.views)) if len(item.views) == 1 else None

    def _check_views(self, frames: list[Item]) -> str:
        if 2 * len(frames) > MAX_IMAGES_PER_SEQUENCE:
            return (
                f"{len(frames)} frames make {2 * len(frames)} images, over {MAX_IMAGES_PER_SEQUENCE}: use frames <= 8"
            )
        names = [self._view_name(f) for f in frames]
        if any(n is None for n in names):
            k = names.index(None)
            have = sorted(frames[k].views) or ["none"]
            want = self.params.view or "exactly one view"
            return f"frame {frames[k].meta.get('frame')} has no annotation view ({want}; it has {', '.join(have)})"
        if len(set(names)) != 1:
            return f"frames carry different views {sorted(set(names))}; set the sequencer's view"
        return ""
