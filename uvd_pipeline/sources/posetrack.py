"""PoseTrack 2018 (per-video JSON of keypoints per frame) -> the frames of one seeded clip each.

Layout, as PoseTrack 2018 ships it: `images/{train,val}/<video>/000000.jpg ...` and one JSON per
video, `annotations/{train,val}/<video>.json`, COCO-like:

- `images`: one entry per frame, `{"file_name": "images/train/<video>/000000.jpg" (relative to the
  dataset root), "id", "frame_id", "vid_id", "nframes", "is_labeled": bool, ...}`; only some frames
  are labelled (train: about 30 around the middle; val: those and every 4th frame);
- `annotations`: one per person and labelled frame, `{"image_id", "keypoints": [x1, y1, v1, ...],
  "track_id", "bbox": [x, y, w, h], "bbox_head", "category_id", "id", ...}`;
- `categories`: the person category with its joint names, `"keypoints": ["nose", "head_bottom",
  "head_top", "left_ear", "right_ear", "left_shoulder", ..., "right_ankle"]` (17 names; the ears are
  placeholders, never labelled).

The joints are mapped to the `openpose` renderer's COCO-17 keypoints **by name**, from the file's own
`categories[].keypoints` list, never by position: PoseTrack's positions 1 and 2 are head_bottom and
head_top, where COCO has the eyes. COCO's eyes have no PoseTrack joint (v = 0); head_bottom and
head_top have no COCO / OpenPose joint and are left out; the renderer's neck is the shoulders'
midpoint, as for every COCO-17 pose. A file that lists its joints in another order maps the same.

A clip is `frames` (default 8) consecutive *annotated* frames (labelled, with at least one person
with a visible joint; natural order of file names) at a stride from `strides` (default [1, 2]), drawn
as for every annotated video (sources/annotated_video.py). Each frame's item carries every person of
that frame in `meta["annotations"]` ({"id", "keypoints": COCO 17 x 3, "track_id", "bbox"}) for the
`openpose` renderer; the `annotated_video` sequencer then makes {f1, a1, ...} or {f1, ..., a1, ...}.

Rejects name the JSON file and the field: `bad_annotation` (not JSON, a missing or malformed field,
joint names sharing nothing with COCO's, a keypoint list of the wrong length), `unsafe_path` (a
file_name leaving the dataset), `video_too_short`, and the image reasons of a frame that cannot be
read (naming the frame).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from ..ids import hash_hex
from ..renderers.openpose import COCO_KEYPOINTS
from ..storage import in_units, join, list_files, read_bytes
from ..types import Item, Reject, WorkUnit
from .annotated_video import AnnotatedClipParams, _AnnotatedVideoSource, clip_meta, dataset_root
from .frame_folder import natural_key
from .image_folder import read_image_file

#: PoseTrack 2018's joint names, in its files' order (what a file without categories is read with).
POSETRACK_KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


class PoseTrackParams(AnnotatedClipParams):
    annotations_dir: str = Field(default="annotations", description="folder of per-video JSON files, under path")
    max_json_bytes: int = Field(default=64 << 20, ge=1, description="larger annotation files are rejected")


def coco_from_named(keypoints: list[float], names: list[str]) -> list[float]:
    """One person's keypoints, listed in the order of `names`, as COCO's 17 x (x, y, v) by name
    (a COCO joint the file does not name is absent: 0, 0, 0)."""
    at = {name: i for i, name in enumerate(names)}
    out: list[float] = []
    for name in COCO_KEYPOINTS:
        i = at.get(name)
        out += [0.0, 0.0, 0.0] if i is None else [float(v) for v in keypoints[3 * i : 3 * i + 3]]
    return out


class PoseTrackError(ValueError):
    """A malformed PoseTrack file; the message names the field."""


def joint_names(data: dict[str, Any]) -> list[str]:
    """The person category's joint names (the file's own list, else PoseTrack 2018's)."""
    cats = data.get("categories")
    if cats is None:
        return list(POSETRACK_KEYPOINTS)
    if not isinstance(cats, list):
        raise PoseTrackError("categories: not a list")
    for i, cat in enumerate(cats):
        if isinstance(cat, dict) and isinstance(cat.get("keypoints"), list):
            names = cat["keypoints"]
            if not all(isinstance(n, str) for n in names):
                raise PoseTrackError(f"categories[{i}].keypoints: not a list of names")
            if not set(names) & set(COCO_KEYPOINTS):
                raise PoseTrackError(f"categories[{i}].keypoints: no joint name shared with COCO's ({names[:4]} ...)")
            return names
    raise PoseTrackError("categories: no category with a keypoints list")


def annotated_frames(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(file_name, people) of every labelled frame with at least one visible joint, in frame order;
    people as the `openpose` renderer reads them (COCO-17 keypoints, by name)."""
    if not isinstance(data, dict):
        raise PoseTrackError("the file is not a JSON object")
    names = joint_names(data)
    images, anns = data.get("images"), data.get("annotations", [])
    if not isinstance(images, list) or not isinstance(anns, list):
        raise PoseTrackError("images / annotations: not lists")
    people: dict[Any, list[dict[str, Any]]] = {}
    for k, ann in enumerate(anns):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise PoseTrackError(f"annotations[{k}]: no image_id")
        kp = ann.get("keypoints")
        if kp is None or kp == []:
            continue  # a person with a box only
        if not isinstance(kp, list) or len(kp) != 3 * len(names) or not all(isinstance(v, (int, float)) for v in kp):
            raise PoseTrackError(f"annotations[{k}].keypoints: expected {3 * len(names)} numbers ({len(names)} joints)")
        coco = coco_from_named(kp, names)
        if any(v > 0 for v in coco[2::3]):
            person = {"id": ann.get("id", k), "keypoints": coco, "track_id": ann.get("track_id")}
            if isinstance(ann.get("bbox"), list):
                person["bbox"] = ann["bbox"]
            people.setdefault(ann["image_id"], []).append(person)
    frames = []
    for k, img in enumerate(images):
        if not isinstance(img, dict) or not isinstance(img.get("file_name"), str) or "id" not in img:
            raise PoseTrackError(f"images[{k}]: no file_name or id")
        if img.get("is_labeled", True) and img["id"] in people:
            frames.append((img["file_name"], people[img["id"]]))
    return sorted(frames, key=lambda f: natural_key(f[0]))


class PoseTrackVideoSource(_AnnotatedVideoSource):
    """`posetrack_video`: PoseTrack 2018 per-video JSON + frames; people drawn by `openpose`."""

    Params = PoseTrackParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root = dataset_root(p.path)
        _, _, files = list_files(join(root, p.annotations_dir), (".json",))
        videos = [{"video": posixpath.splitext(f)[0], "json": f} for f in files]
        return [{"root": root, "videos": part} for part in in_units(videos, p.unit_size)]

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root = unit.payload["root"]
        for v in unit.payload["videos"]:
            yield from self.read_video(root, v["video"], v["json"], unit.source)

    def read_video(self, root: str, record: str, rel_json: str, source: str) -> Iterator[Item | Reject]:
        p = self.params
        url = join(join(root, p.annotations_dir), rel_json)
        shown = posixpath.join(p.annotations_dir, rel_json)
        try:
            raw = read_bytes(url)
            if len(raw) > p.max_json_bytes:
                raise PoseTrackError(f"{len(raw)} bytes, over max_json_bytes={p.max_json_bytes}")
            frames = annotated_frames(json.loads(raw))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, PoseTrackError, RecursionError) as exc:
            yield Reject(record, "bad_annotation", f"{shown}: {exc}")
            return
        video_id = hash_hex("posetrack", record)
        clip = self.clip_for(source, video_id, len(frames), record)
        if isinstance(clip, Reject):
            yield clip
            return
        items = []
        for position in clip.indices:
            name, people = frames[position]
            if name.startswith("/") or "://" in name or ".." in name.replace("\\", "/").split("/"):
                yield Reject(record, "unsafe_path", f"{shown}: file_name {name!r} points outside the dataset")
                return
            meta = {**clip_meta(record, video_id, clip, position, name, len(frames)), "annotations": people}
            got = read_image_file(join(root, name), record, meta)
            if isinstance(got, Reject):
                yield Reject(record, got.reason, f"frame {name}: {got.detail}")
                return
            items.append(got)
        yield from items
