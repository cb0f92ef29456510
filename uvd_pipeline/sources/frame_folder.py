"""Videos shipped as frame folders (`video_id/000001.jpg`, ...) -> the frames of one seeded clip each.

Many video datasets ship decoded frames. A video is any folder that directly holds image files
(nested layouts such as `class/video/00001.png` work too); its frames are the images in natural
order (`2.jpg` before `10.jpg`), and frame index k is the k-th of them, counted from 0. The clip is
drawn exactly as for video files (sources/video.py: `short_video` shrinks the stride to fit by
default, as LVM's `read_frames_from_dir` does, or draws only among the strides that fit; uniform
start; seeded by (params.seed, source name, video)); only the sampled frame files are read. Frames
are decoded with PIL and resized by the pipeline's PIL resize, as LVM reads frame folders
(`read_image_to_tensor`), so this source has no `resize` option.

Items: record = the folder's relative path (accounting is per video); each frame is a file, so its
image id is the hash of the file's bytes (DESIGN.md, Identity); meta as for video files plus
`frame_file`. A frame that cannot be decoded rejects the whole video with that frame named.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from ..ids import hash_hex, rng_for
from ..images import IMAGE_EXTENSIONS
from ..stages import Source
from ..storage import in_units, join, list_folder
from ..types import Item, Reject, WorkUnit
from .image_folder import read_image_file
from .video import ClipParams, plan_clip, too_short_detail


class FrameFolderParams(ClipParams):
    path: str = Field(description="folder whose sub-folders hold one video's frames each")
    extensions: list[str] = Field(default_factory=lambda: list(IMAGE_EXTENSIONS))
    unit_size: int = Field(default=8, ge=1, description="videos per work unit")


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def video_folders(files: list[str]) -> dict[str, list[str]]:
    """Relative folder -> its frame file names in natural order, from relative file paths."""
    folders: dict[str, list[str]] = {}
    for rel in files:
        folder, name = posixpath.split(rel)
        folders.setdefault(folder or ".", []).append(name)
    return {f: sorted(names, key=natural_key) for f, names in sorted(folders.items())}


class FrameFolderSource(Source):
    Params = FrameFolderParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root, files = list_folder(p.path, p.extensions, recursive=True)
        videos = [{"dir": d, "frames": names} for d, names in video_folders(files).items()]
        return [{"root": root, "videos": part} for part in in_units(videos, p.unit_size)]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["videos"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root = unit.payload["root"]
        for video in unit.payload["videos"]:
            yield from self.read_folder(root, video["dir"], video["frames"], unit.source)

    def read_folder(self, root: str, folder: str, names: list[str], source: str) -> Iterator[Item | Reject]:
        p = self.params
        video_id = hash_hex("frame_folder", folder)
        rng = rng_for("video_clip", p.seed, source, video_id)
        clip = plan_clip(len(names), p.frames, p.strides, rng, p.short_video)
        if clip is None:
            detail = too_short_detail(len(names), p.frames, p.strides, p.short_video)
            yield Reject(folder, "video_too_short", f"{folder}: {detail}")
            return
        items = []
        for index in clip.indices:
            name = names[index]
            meta = {
                "video": folder,
                "video_id": video_id,
                "frame_index": index,
                "frame_file": name,
                "stride": clip.stride,
                "start": clip.start,
                "clip_length": clip.length,
                "n_frames": len(names),
            }
            if clip.stride_drawn:
                meta["stride_drawn"] = clip.stride_drawn
            got = read_image_file(join(root, posixpath.join(folder, name) if folder != "." else name), folder, meta, root=root)
            if isinstance(got, Reject):
                yield Reject(folder, got.reason, f"frame {name}: {got.detail}")
                return
            items.append(got)
        yield from items
