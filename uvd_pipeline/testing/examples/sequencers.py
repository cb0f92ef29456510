"""Conformance examples of the built-in sequencers: 256x256 items tagged as the sources that feed
each one tag them, and bad_items that must come back as rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...sequencers.ktuple import IMAGE
from .inputs import DENSE_MAPS, example_clip, example_views, sequencer_items


def single(tmp_dir: Path) -> dict[str, Any]:
    """Items with and without meta (a labelled item's meta goes into its provenance).
    Every item makes a sequence, so there are no bad_items."""
    return {"items": sequencer_items(3, meta=lambda i: {"class": "n00000001", "class_index": 1} if i else {})}


def class_groups(tmp_dir: Path) -> dict[str, Any]:
    """18 items labelled as the imagenet source labels them: 4 classes of 4 (one group of 4
    each) and 2 of a fifth class that no group fits; bad_items: items without a class."""

    def label(i: int) -> dict[str, Any]:
        c = min(i // 4, 4)
        return {"class": f"n{c:08d}", "class_index": c, "file": f"n{c:08d}_{i:04d}.JPEG"}

    unlabelled = sequencer_items(2, meta=lambda i: {"file": f"{i:04d}.JPEG"}, seed=1)
    return {"items": sequencer_items(18, meta=label), "bad_items": unlabelled}


def pairs(tmp_dir: Path) -> dict[str, Any]:
    """10 items with one view, as the paired source gives them: a sequence of 8 pairs and 2
    left over; bad_items: items with two views and no `view` param to choose."""
    two_views = sequencer_items(2, views=("depth", "edges"), seed=1)
    return {"items": sequencer_items(10, views=("output",)), "bad_items": two_views}


def ktuple(tmp_dir: Path) -> dict[str, Any]:
    """7 items with the dense maps' four views: 5 modalities x 3 shots make 2 sequences and
    1 item is left over; bad_items: items lacking the edges view."""
    no_edges = tuple(m for m in DENSE_MAPS if m != "edges")
    return {
        "params": {"modalities": [IMAGE, *DENSE_MAPS]},
        "items": sequencer_items(7, views=DENSE_MAPS),
        "bad_items": sequencer_items(2, views=no_edges, seed=1),
    }


def video_clip(tmp_dir: Path) -> dict[str, Any]:
    """Two whole clips; bad_items: a clip with a frame missing."""
    gap = example_clip("gap.mp4", 0, 10, 16)
    del gap[3]
    return {"items": example_clip("a.mp4", 5, 10, 16) + example_clip("b.avi", 0, 20, 16), "bad_items": gap}


def annotated_video(tmp_dir: Path) -> dict[str, Any]:
    """A clip of frames with their skeleton views; bad_items: a frame without its view."""
    broken = example_clip("w", 0, 1, 8, views=("openpose",))
    broken[2].views = {}
    return {"items": example_clip("v", 3, 2, 8, views=("openpose",)), "bad_items": broken}


def orbit(tmp_dir: Path) -> dict[str, Any]:
    """Two whole orbits of 16 views; bad_items: an orbit one view short."""
    return {
        "items": example_views("chair", 20) + example_views("lamp", 0),
        "bad_items": example_views("cup", 3)[:15],
    }


def multiview_shots(tmp_dir: Path) -> dict[str, Any]:
    """Three captures of 4 frames with masks and depth masks, as multiview_capture tags them: one
    group of 2 shots and one of 1, each giving a mask and a depth-mask sequence; bad_items: a
    capture with a frame that lacks its depth mask."""

    def capture(name: str, start: int) -> list:
        frames = example_clip(name, start, 2, 4, views=("masks", "depth_masks"))
        for f in frames:
            f.meta["category"] = name.split("/")[0]
        return frames

    broken = capture("cup/d", 0)
    del broken[2].views["depth_masks"]
    return {"items": capture("bear/a", 0) + capture("bear/b", 3) + capture("bear/c", 1), "bad_items": broken}


EXAMPLES = {
    "single": single,
    "class_groups": class_groups,
    "pairs": pairs,
    "ktuple": ktuple,
    "video_clip": video_clip,
    "annotated_video": annotated_video,
    "orbit": orbit,
    "multiview_shots": multiview_shots,
}
