"""Videos with per-frame annotations -> the frames of one seeded clip each, annotations in item.meta.

Three layouts, each a source plugin; their annotations are put in `item.meta` in the shape the image
renderers take, so the recipe draws them with those renderers:

- `vipseg_video`  VIPSeg: `imgs/<video>/<frame>.jpg` + `panomasks/<video>/<frame>.png` (a palette
                  PNG whose indices are class ids). meta["maps"]["segmentation"] = the mask's URL
                  -> renderer `segmentation_map` (fixed 256-colour palette, nearest resize).
- `jhmdb_video`   JHMDB: `Frames/<class>/<video>/00001.png` + `joint_positions/<class>/<video>/
                  joint_positions.mat` holding `pos_img` (2 x 15 x frames, pixels). The 15 puppet
                  joints become COCO's 17 keypoints in meta["annotations"][0]["keypoints"] (eyes and
                  ears absent, face -> nose) -> renderer `openpose`.
- `ava_video`     AVA: video files + a CSV of person boxes per keyframe -> meta["annotations"]
                  [{"bbox", "category_id", ...}] -> renderer `coco_boxes` (sources/ava_video.py,
                  built on the pieces here).

A clip is `frames` consecutive annotated frames at a stride from `strides` (in annotated frames;
same drawing and seeding as sources/video.py: rng_for("video_clip", seed, source name, video id)).
Frames are counted among the annotated frames: `frame_index` is that position, `frame` names the
file (or, for AVA, the frame number in the video). The `annotated_video` sequencer pairs each frame
with its annotation view in either order. A video without enough annotated frames, a missing
annotation file or video, or a malformed annotation is a reject naming the file.
"""

from __future__ import annotations

import io
import math
import posixpath
from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import Field

from ..ids import hash_hex, rng_for
from ..images import IMAGE_EXTENSIONS
from ..stages import Source
from ..storage import filesystem, full_path, in_units, join, list_files, read_record_bytes
from ..types import Item, Reject, WorkUnit
from .frame_folder import video_folders
from .image_folder import read_image_file
from .video import (
    Clip,
    ClipParams,
    ShortVideo,
    plan_clip,
    too_short_detail,
)

# JHMDB's puppet joints in the order of pos_img's second axis (JHMDB README).
JHMDB_JOINTS = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip", "right_elbow",
    "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist", "right_ankle", "left_ankle",
)  # fmt: skip
# For each COCO keypoint (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; left
# before right), the JHMDB joint it is taken from; None: JHMDB has no such joint.
COCO_FROM_JHMDB: tuple[str | None, ...] = (
    "face", None, None, None, None, "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


class AnnotatedClipParams(ClipParams):
    frames: int = Field(default=8, ge=1, le=8, description="annotated frames per clip (2 images each)")
    strides: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    path: str = Field(description="the dataset's root folder")
    unit_size: int = Field(default=8, ge=1, description="videos per work unit")
    short_video: ShortVideo = Field(
        default="reject", description="annotated clips keep the strides that fit unless set to shrink_stride"
    )


class _AnnotatedVideoSource(Source):
    Params = AnnotatedClipParams

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["videos"])

    def clip_for(self, source: str, video_id: str, n_annotated: int, record: str) -> Clip | Reject:
        p = self.params
        rng = rng_for("video_clip", p.seed, source, video_id)
        clip = plan_clip(n_annotated, p.frames, p.strides, rng, p.short_video)
        if clip is None:
            detail = too_short_detail(n_annotated, p.frames, p.strides, p.short_video).replace("frames;", "annotated frames;", 1)
            return Reject(record, "video_too_short", f"{record}: {detail}")
        return clip


def dataset_root(path: str) -> str:
    """The dataset's root as a URL workers can open (protocol kept for remote stores)."""
    fs, inner = filesystem(path)
    return full_path(fs, inner.rstrip("/"))


def clip_meta(record: str, video_id: str, clip: Clip, position: int, frame: Any, n_annotated: int) -> dict[str, Any]:
    meta = {
        "video": record,
        "video_id": video_id,
        "frame_index": position,
        "frame": frame,
        "stride": clip.stride,
        "start": clip.start,
        "clip_length": clip.length,
        "n_frames": n_annotated,
    }
    if clip.stride_drawn:
        meta["stride_drawn"] = clip.stride_drawn
    return meta


def _read_frames(
    root: str, record: str, names: list[str], clip: Clip, video_id: str, extra: dict[int, dict[str, Any]]
) -> list[Item] | Reject:
    """The clip's frame files as Items, meta from clip_meta plus `extra[position]`; all or one Reject."""
    items = []
    for position in clip.indices:
        name = names[position]
        meta = {**clip_meta(record, video_id, clip, position, name, len(names)), **extra[position]}
        got = read_image_file(join(root, posixpath.join(record, name)), record, meta, root=root)
        if isinstance(got, Reject):
            return Reject(record, got.reason, f"frame {name}: {got.detail}")
        items.append(got)
    return items


class VipsegParams(AnnotatedClipParams):
    images_dir: str = "imgs"
    masks_dir: str = "panomasks"


class VipsegVideoSource(_AnnotatedVideoSource):
    """`vipseg_video`: frames with palette PNG masks; only frames that have a mask are annotated."""

    Params = VipsegParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root = dataset_root(p.path)
        _, _, images = list_files(join(root, p.images_dir), tuple(IMAGE_EXTENSIONS))
        _, _, masks = list_files(join(root, p.masks_dir), (".png",))
        mask_of = {posixpath.splitext(m)[0]: m for m in masks}
        videos = []
        for folder, names in video_folders(images).items():
            pairs = [(n, mask_of.get(posixpath.splitext(posixpath.join(folder, n))[0])) for n in names]
            pairs = [(n, m) for n, m in pairs if m is not None]
            videos.append({"video": folder, "frames": [n for n, _ in pairs], "masks": [m for _, m in pairs]})
        return [{"root": root, "videos": part} for part in in_units(videos, p.unit_size)]

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        p = self.params
        root = unit.payload["root"]
        for v in unit.payload["videos"]:
            record, masks = v["video"], v["masks"]
            video_id = hash_hex("vipseg", record)
            clip = self.clip_for(unit.source, video_id, len(v["frames"]), record)
            if isinstance(clip, Reject):
                yield clip
                continue
            extra = {
                i: {"maps": {"segmentation": join(join(root, p.masks_dir), masks[i])}, "mask_file": masks[i]}
                for i in clip.indices
            }
            got = _read_frames(join(root, p.images_dir), record, v["frames"], clip, video_id, extra)
            yield from ([got] if isinstance(got, Reject) else got)


class JhmdbParams(AnnotatedClipParams):
    frames_dir: str = "Frames"
    joints_dir: str = "joint_positions"
    joints_file: str = "joint_positions.mat"


def jhmdb_to_coco(xy: np.ndarray) -> list[float]:
    """One frame's (2, 15) JHMDB joints -> COCO's 17 x (x, y, v) flat list (v = 2 labelled, 0 absent)."""
    out: list[float] = []
    for name in COCO_FROM_JHMDB:
        if name is None:
            out += [0.0, 0.0, 0.0]
            continue
        x, y = (float(c) for c in xy[:, JHMDB_JOINTS.index(name)])
        out += [x, y, 2.0] if math.isfinite(x) and math.isfinite(y) else [0.0, 0.0, 0.0]
    return out


def _scipy_loadmat():
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise ImportError(
            f"jhmdb_video reads .mat files with scipy: pip install 'uvd-pipeline[video]' ({exc})"
        ) from None
    return loadmat


# scipy's MAT-file reader is compiled code that some malformed files crash outright (a segfault,
# e.g. scipy 1.17 on a matrix whose data element has type 0), which would kill the worker, not
# raise. So it reads each file in a child process, which hands back pos_img as .npy bytes (never a
# pickle) or exits 3 naming the variables it found.
_MAT_CHILD = """
import io, sys
import numpy as np
from scipy.io import loadmat
mat = loadmat(io.BytesIO(sys.stdin.buffer.read()))
if "pos_img" not in mat:
    sys.stderr.write(str(sorted(k for k in mat if not k.startswith("__"))))
    sys.exit(3)
out = io.BytesIO()
np.save(out, np.asarray(mat["pos_img"], dtype=np.float64), allow_pickle=False)
sys.stdout.buffer.write(out.getvalue())
"""


def load_jhmdb_joints(url: str) -> np.ndarray:
    """pos_img (2 x 15 x frames) from a joint_positions.mat (MATLAB v5 through scipy, in a child
    process; no pickle)."""
    import subprocess
    import sys

    _scipy_loadmat()  # the install hint, here rather than in the child
    proc = subprocess.run([sys.executable, "-c", _MAT_CHILD], input=read_record_bytes(url), capture_output=True, timeout=300)
    if proc.returncode == 3:
        raise ValueError(f"no pos_img variable (has {proc.stderr.decode(errors='replace')})")
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ValueError(f"scipy cannot read it ({'the reader crashed' if proc.returncode < 0 else last})")
    pos = np.load(io.BytesIO(proc.stdout), allow_pickle=False)
    if pos.ndim != 3 or pos.shape[:2] != (2, len(JHMDB_JOINTS)):
        raise ValueError(f"pos_img has shape {pos.shape}, expected (2, {len(JHMDB_JOINTS)}, frames)")
    return pos


class JhmdbVideoSource(_AnnotatedVideoSource):
    """`jhmdb_video`: frame folders + per-video joint_positions.mat; every frame is annotated."""

    Params = JhmdbParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root = dataset_root(p.path)
        _, _, frames = list_files(join(root, p.frames_dir), tuple(IMAGE_EXTENSIONS))
        try:
            _, _, mats = list_files(join(root, p.joints_dir), (p.joints_file.lower(),))
        except FileNotFoundError:
            mats = []
        joints = {posixpath.dirname(m): m for m in mats if posixpath.basename(m) == p.joints_file}
        folders = video_folders(frames)
        videos = [
            {"video": v, "frames": folders.get(v, []), "joints": joints.get(v)}
            for v in sorted(set(folders) | set(joints))
        ]
        return [{"root": root, "videos": part} for part in in_units(videos, p.unit_size)]

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        p = self.params
        root = unit.payload["root"]
        _scipy_loadmat()  # a missing scipy fails the unit with the install hint, not every video
        for v in unit.payload["videos"]:
            record, names = v["video"], v["frames"]
            if v["joints"] is None:
                yield Reject(record, "missing_annotation", f"{record}: no {p.joints_dir}/{record}/{p.joints_file}")
                continue
            if not names:
                yield Reject(record, "missing_frames", f"{record}: no frames under {p.frames_dir}/{record}")
                continue
            url = join(join(root, p.joints_dir), v["joints"])
            try:
                pos = load_jhmdb_joints(url)
            except Exception as exc:  # scipy raises several types for a broken MAT file
                yield Reject(record, "bad_annotation", f"{url}: {type(exc).__name__}: {exc}")
                continue
            if pos.shape[2] != len(names):
                yield Reject(
                    record,
                    "annotation_mismatch",
                    f"{url}: {pos.shape[2]} annotated frames for {len(names)} frame files",
                )
                continue
            video_id = hash_hex("jhmdb", record)
            clip = self.clip_for(unit.source, video_id, len(names), record)
            if isinstance(clip, Reject):
                yield clip
                continue
            extra = {i: {"annotations": [{"id": i, "keypoints": jhmdb_to_coco(pos[:, :, i])}]} for i in clip.indices}
            got = _read_frames(join(root, p.frames_dir), record, names, clip, video_id, extra)
            yield from ([got] if isinstance(got, Reject) else got)
