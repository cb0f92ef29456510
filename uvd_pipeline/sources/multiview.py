"""CO3D-style multi-view captures -> a few frames of each object with the same frames' masks.

Layout, as CO3D ships it and LVM's CO3D script reads it: `<category>/<sequence>/images/frame000001.jpg`,
with the same frames' foreground masks in `<category>/<sequence>/masks/frame000001.png` and depth
masks in `<category>/<sequence>/depth_masks/frame000001.png` (other sub-folders, e.g. `depths/`,
are not read). Each sequence is one capture of one object (the camera moving around it).

Per capture, `frames` (default 4) frames are drawn as LVM's `randomly_subsample_frame_indices` does:
a stride uniform in [1, min((n - 1) // (frames - 1), max_stride)] (max_stride default 4), then a
start uniform in [0, n - (frames - 1) * stride]; seeded by rng_for("multiview", seed, source name,
capture). A capture with fewer than `frames` images is a reject (`video_too_short`).

Each sampled frame is an item whose views are its annotations, one per folder of `annotations`
(default masks and depth_masks; the view is named after the folder). An annotation is matched to
its frame by file stem (`frame000001.jpg` <-> `frame000001.png`); LVM's script takes the same
positions in each folder's sorted listing, which is the same thing when the folders are complete,
and a missing annotation is a reject here (`missing_annotation`, naming the file) instead of a
silently shifted pair. Masks are greyscale PNGs, read like any image (grey copied to RGB).

A work unit holds up to `captures_per_unit` captures of one category, so the `multiview_shots`
sequencer can put captures of the same category side by side as shots, as LVM's script does with
consecutive captures. Items: record = the capture's path (`category/sequence`), image id = hash of
the frame file's bytes (views: of their files), meta = {video (the capture), video_id, category,
frame_index, frame, stride, start, clip_length, n_frames}.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..ids import hash_hex, rng_for
from ..images import IMAGE_EXTENSIONS
from ..stages import Source
from ..storage import in_units, join, list_folder
from ..types import Image, Item, Reject, WorkUnit
from .frame_folder import natural_key
from .image_folder import read_image_file
from .video import Clip


class MultiviewParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="root holding <category>/<sequence>/images (local path or fsspec URL)")
    images_dir: str = Field(default="images", description="the frames' folder inside each capture")
    annotations: list[str] = Field(
        default_factory=lambda: ["masks", "depth_masks"], min_length=1, description="annotation folders (views)"
    )
    frames: int = Field(default=4, ge=2, le=8, description="frames per capture (LVM: 4)")
    max_stride: int = Field(default=4, ge=1, description="largest stride drawn (LVM: 4)")
    captures_per_unit: int = Field(default=8, ge=1, description="captures of one category per work unit")
    seed: int = Field(default=0, description="seeds the stride and start per capture")


def plan_capture(n_frames: int, length: int, max_stride: int, rng: np.random.Generator) -> Clip | None:
    """LVM's `randomly_subsample_frame_indices`: stride uniform in [1, min((n - 1) // (length - 1),
    max_stride)], start uniform; None when n_frames < length."""
    if n_frames < length:
        return None
    stride = int(rng.integers(1, min((n_frames - 1) // (length - 1), max_stride) + 1))
    start = int(rng.integers(0, n_frames - (length - 1) * stride))
    return Clip(start, stride, length)


def captures(files: list[str], images_dir: str, annotations: list[str]) -> dict[str, dict[str, list[str]]]:
    """capture path -> {folder: its file names in natural order}, from relative file paths
    `<category>/<sequence>/<folder>/<name>`; captures without an images folder are kept (a reject)."""
    found: dict[str, dict[str, list[str]]] = {}
    wanted = {images_dir, *annotations}
    for rel in files:
        parts = rel.split("/")
        if len(parts) < 3 or parts[-2] not in wanted:
            continue
        capture = "/".join(parts[:-2]) or "."
        found.setdefault(capture, {}).setdefault(parts[-2], []).append(parts[-1])
    return {c: {k: sorted(v, key=natural_key) for k, v in sorted(d.items())} for c, d in sorted(found.items())}


def category_of(capture: str) -> str:
    return posixpath.dirname(capture) or "."


class MultiviewCaptureSource(Source):
    """`multiview_capture`: CO3D-style captures; frames with their masks / depth masks as views."""

    Params = MultiviewParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root, files = list_folder(p.path, IMAGE_EXTENSIONS, recursive=True)
        by_category: dict[str, list[dict[str, Any]]] = {}
        for capture, folders in captures(files, p.images_dir, p.annotations).items():
            by_category.setdefault(category_of(capture), []).append({"capture": capture, "folders": folders})
        return [
            {"root": root, "category": category, "captures": part}
            for category, caps in by_category.items()
            for part in in_units(caps, p.captures_per_unit)
        ]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["captures"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        for c in unit.payload["captures"]:
            yield from self.read_capture(unit.payload["root"], c["capture"], c["folders"], unit.source)

    def read_capture(
        self, root: str, record: str, folders: dict[str, list[str]], source: str
    ) -> Iterator[Item | Reject]:
        p = self.params
        names = folders.get(p.images_dir, [])
        video_id = hash_hex("multiview", record)
        clip = plan_capture(len(names), p.frames, p.max_stride, rng_for("multiview", p.seed, source, video_id))
        if clip is None:
            detail = f"{record}: {len(names)} frames in {p.images_dir}/, a capture needs {p.frames}"
            yield Reject(record, "video_too_short", detail)
            return
        by_stem = {a: {posixpath.splitext(n)[0]: n for n in folders.get(a, [])} for a in p.annotations}
        items = []
        for index in clip.indices:
            name = names[index]
            meta = {
                "video": record,
                "video_id": video_id,
                "category": category_of(record),
                "frame_index": index,
                "frame": name,
                "stride": clip.stride,
                "start": clip.start,
                "clip_length": clip.length,
                "n_frames": len(names),
            }
            got = read_image_file(join(root, posixpath.join(record, p.images_dir, name)), record, meta)
            if isinstance(got, Reject):
                yield Reject(record, got.reason, f"frame {name}: {got.detail}")
                return
            for folder in p.annotations:
                view = self._annotation(root, record, folder, by_stem[folder], name)
                if isinstance(view, Reject):
                    yield view
                    return
                got.views[folder] = view
            items.append(got)
        yield from items

    def _annotation(self, root: str, record: str, folder: str, stems: dict[str, str], frame: str) -> Image | Reject:
        stem = posixpath.splitext(frame)[0]
        if stem not in stems:
            return Reject(record, "missing_annotation", f"{record}: no {folder}/{stem}.* for frame {frame}")
        got = read_image_file(join(root, posixpath.join(record, folder, stems[stem])), record)
        if isinstance(got, Reject):
            return Reject(record, got.reason, f"{folder}/{stems[stem]}: {got.detail}")
        return got.image
