"""Video files (mp4, avi, webm, mkv, mov) -> the frames of one seeded clip per video.

The paper's rule: 16 frames at stride 10, 20 or 30, random start. What happens when the video is
shorter than a stride needs is the `short_video` parameter:

- `shrink_stride` (default, as in the LVM code's `read_frames_from_video` / `read_frames_from_dir`):
  a stride is drawn uniformly from `strides`, then capped to what the video can hold,
  `min(stride, (n_frames - 1) // (frames - 1))` (LVM: `// 15` for its 16 frames), and a start is
  drawn uniformly. Only a video with fewer frames than the clip (no stride fits, not even 1) is a
  reject. The stride actually used is `stride` in the frames' meta and the manifest's provenance;
  the drawn one is `stride_drawn`.
- `reject` (the behaviour before issue 15): only the strides whose span ((frames - 1) * stride + 1)
  fits are drawn from; a video no stride fits is a reject.

A reject is `video_too_short` with the frame count and the span needed.

Resizing is the `resize` parameter. `cv2` (default, as in the LVM code): each sampled frame is
resized to 256x256 right after decoding with `cv2.resize(frame, (256, 256))` (OpenCV's default
bilinear filter, on the frame as decoded), so it reaches the pipeline at its final size and the
pipeline's PIL resize leaves it as it is. `pil`: frames leave the source at full size and go through
the pipeline's PIL resize like every other image (the behaviour before issue 15). With `cv2` the
recipe's `preprocess.center_crop` no longer reaches video frames (they are square already); the
source's own `center_crop` crops the largest centred square before the cv2 resize instead.

Seeds: the draw uses `rng_for("video_clip", params.seed, unit.source, video id)`: the source's
`seed` parameter (the recipe's `seed` unless the source entry sets its own), the recipe's source
name and the video's id (hash of its bytes). It does not depend on the unit a video falls in, so
re-splitting units (unit_size) keeps every clip.

Decoder: OpenCV's FFmpeg backend (opencv-python-headless, the `video` extra). It ships FFmpeg inside
the wheel (no system package), reads mp4/avi/webm/mkv/mov, and gives what a stride sampler needs:
`grab()` demuxes and decodes a frame without the colour conversion and copy that `retrieve()` does,
so skipped frames are never materialised as arrays, and `set(CAP_PROP_POS_FRAMES)` seeks to the
keyframe before a far start and decodes forward to the exact frame. PyAV would add a second FFmpeg
binding for the same work; it is not needed. A seek is used only when the clip starts at least
`seek_threshold` frames in, and is checked (position read back); otherwise frames are grabbed.
Containers that only estimate their frame count (some mkv/webm) are handled: if the video ends
early, the clip is planned again on the count actually decoded.

Items: one per sampled frame. record = the video's relative path (accounting is per video), image
id = hash("frame", video id, frame index) (DESIGN.md, Identity), meta = {video, video_id,
frame_index, stride, start, clip_length, n_frames, fps} (+ stride_drawn with shrink_stride). The `video_clip` sequencer turns them into
one sequence and records the frame indices in the manifest's provenance.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..console.library_logs import quiet_opencv
from ..ids import ID_HEX, hash_hex, rng_for
from ..storage import filesystem
from ..types import IMAGE_SIZE, Image, Item, Reject
from .image_folder import FileFolderSource

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v")
CLIP_LENGTH = 16
PAPER_STRIDES = (10, 20, 30)
ShortVideo = Literal["shrink_stride", "reject"]


class ClipParams(BaseModel):
    """How a clip is drawn from a video; shared by the video and frame-folder sources."""

    model_config = ConfigDict(extra="forbid")
    frames: int = Field(default=CLIP_LENGTH, ge=1, le=16, description="frames per clip")
    strides: list[int] = Field(default_factory=lambda: list(PAPER_STRIDES), min_length=1)
    seed: int = Field(default=0, description="seeds the stride and start per video")
    short_video: ShortVideo = Field(
        default="shrink_stride",
        description="a video shorter than the drawn stride needs: shrink the stride to fit (LVM) or "
        "draw only among the strides that fit and reject when none does",
    )

    @field_validator("strides")
    @classmethod
    def _positive(cls, strides: list[int]) -> list[int]:
        if any(s < 1 for s in strides):
            raise ValueError(f"strides must be >= 1, got {strides}")
        return sorted(set(strides))


@dataclass(frozen=True)
class Clip:
    start: int
    stride: int
    length: int
    stride_drawn: int = 0  # the stride drawn before shrinking (0: not recorded)

    @property
    def indices(self) -> list[int]:
        return [self.start + k * self.stride for k in range(self.length)]

    @property
    def span(self) -> int:
        return (self.length - 1) * self.stride + 1


def plan_clip(
    n_frames: int, length: int, strides: list[int], rng: np.random.Generator, short_video: ShortVideo = "reject"
) -> Clip | None:
    """Where a clip of `length` frames lies in a video of n_frames; None when the video is too short.

    `reject`: a stride drawn among those whose span fits n_frames, a start drawn uniformly; None if
    none fits. `shrink_stride`: a stride drawn among all of `strides`, capped to
    (n_frames - 1) // (length - 1), then a start drawn uniformly; None only if n_frames < length.
    """
    if short_video == "shrink_stride":
        return _plan_shrinking(n_frames, length, sorted(set(strides)), rng)
    fitting = [s for s in sorted(set(strides)) if (length - 1) * s + 1 <= n_frames]
    if not fitting:
        return None
    stride = fitting[int(rng.integers(len(fitting)))]
    start = int(rng.integers(0, n_frames - (length - 1) * stride))
    return Clip(start, stride, length)


def _plan_shrinking(n_frames: int, length: int, strides: list[int], rng: np.random.Generator) -> Clip | None:
    if n_frames < length:
        return None
    drawn = strides[int(rng.integers(len(strides)))]
    stride = drawn if length == 1 else min(drawn, (n_frames - 1) // (length - 1))
    start = int(rng.integers(0, n_frames - (length - 1) * stride))
    return Clip(start, stride, length, stride_drawn=drawn)


def too_short_detail(n_frames: int, length: int, strides: list[int], short_video: ShortVideo = "reject") -> str:
    s = 1 if short_video == "shrink_stride" else min(strides)
    return f"{n_frames} frames; {length} frames at stride {s} need {(length - 1) * s + 1}"


def frame_id(video_id: str, frame_index: int) -> str:
    """A frame's image id: the video's id + the frame index (DESIGN.md, Identity)."""
    return hash_hex("frame", video_id, int(frame_index))


class VideoParams(ClipParams):
    path: str = Field(description="folder of video files (local path or fsspec URL)")
    extensions: list[str] = Field(default_factory=lambda: list(VIDEO_EXTENSIONS))
    recursive: bool = True
    unit_size: int = Field(default=8, ge=1, description="videos per work unit")
    seek_threshold: int = Field(
        default=250, ge=1, description="seek instead of grabbing when a clip starts this far in"
    )
    max_frame_pixels: int = Field(default=4096 * 2304, ge=1, description="frames larger than this are rejected")
    resize: Literal["cv2", "pil"] = Field(
        default="cv2",
        description="cv2: cv2.resize each frame to 256x256 when decoded (LVM); pil: leave it to the pipeline",
    )
    center_crop: bool = Field(default=False, description="with resize: cv2, crop the centred square first")


class VideoSource(FileFolderSource):
    Params = VideoParams
    files_key = "videos"

    def read_file(self, url: str, record: str, source: str) -> Iterator[Item | Reject]:
        """The frames of one seeded clip, all or none: a video that fails midway is one reject."""
        p = self.params
        try:
            with local_copy(url) as path:
                video_id = file_id(path)
                got = sample_clip(path, record, video_id, p, rng_for("video_clip", p.seed, source, video_id))
        except OSError as exc:
            got = Reject(record, "unreadable_file", f"{url}: {exc}")
        if isinstance(got, Reject):
            yield got
            return
        clip, frames, info = got
        for index, rgb in zip(clip.indices, frames):
            meta = {
                "video": record,
                "video_id": video_id,
                "frame_index": index,
                "stride": clip.stride,
                "start": clip.start,
                "clip_length": clip.length,
                **info,
            }
            if clip.stride_drawn:
                meta["stride_drawn"] = clip.stride_drawn
            yield Item(record=record, image=Image(frame_id(video_id, index), rgb), meta=meta)


def file_id(path: str) -> str:
    """Hash of the file's bytes, read in chunks (the same id `ids.bytes_id` gives the whole bytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:ID_HEX]


@contextlib.contextmanager
def local_copy(url: str) -> Iterator[str]:
    """A local path for OpenCV: the path itself, or a temporary copy of a remote (fsspec) file."""
    if "://" not in url or url.startswith("file://"):
        yield url.removeprefix("file://")
        return
    fs, inner = filesystem(url)
    suffix = os.path.splitext(inner)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with fs.open(inner, "rb") as src:
            shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name


def _cv2() -> Any:
    # FFmpeg's own messages ("moov atom not found", ...) would repeat on stderr what the reject rows
    # already say; keep them quiet unless the user set a level.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        import cv2
    except ImportError as exc:
        raise ImportError(f"video sources need the video extra: pip install 'uvd-pipeline[video]' ({exc})") from None
    return quiet_opencv(cv2)  # OpenCV's own "[ WARN ...] capture by name" lines: console/library_logs.py


class _EndOfVideo(Exception):
    def __init__(self, frames_seen: int) -> None:
        super().__init__(frames_seen)
        self.frames_seen = frames_seen


def sample_clip(
    path: str, record: str, video_id: str, p: VideoParams, rng: np.random.Generator
) -> tuple[Clip, list[np.ndarray], dict[str, Any]] | Reject:
    """Plan a clip on the container's frame count and decode it; re-plan once on the decoded count if
    the container over-reported it."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return Reject(record, "unreadable_video", f"{record}: OpenCV/FFmpeg cannot open it")
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > p.max_frame_pixels:
            return Reject(
                record, "frame_too_large", f"{record}: {width}x{height} over max_frame_pixels={p.max_frame_pixels}"
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    n_frames = reported if reported > 0 else count_frames(path)
    for attempt in range(2):
        clip = plan_clip(n_frames, p.frames, p.strides, rng, p.short_video)
        if clip is None:
            detail = too_short_detail(n_frames, p.frames, p.strides, p.short_video)
            return Reject(record, "video_too_short", f"{record}: {detail}")
        try:
            resize = ResizeFrames(IMAGE_SIZE, p.center_crop) if p.resize == "cv2" else None
            frames = decode_frames(path, clip.indices, p.seek_threshold, resize)
        except _EndOfVideo as end:
            if attempt == 0 and 0 < end.frames_seen < n_frames:
                n_frames = count_frames(path)  # the container over-reported; plan on the real count
                rng = rng_for("video_clip_recount", video_id, n_frames)
                continue
            return Reject(
                record, "decode_failed", f"{record}: decoding stopped at frame {end.frames_seen} of {n_frames}"
            )
        if not frames or frames[0].size == 0:
            return Reject(record, "decode_failed", f"{record}: empty frames")
        return clip, frames, {"n_frames": n_frames, "fps": fps}
    return Reject(record, "decode_failed", f"{record}: the frame count could not be established")


def count_frames(path: str) -> int:
    """Frames a video really has, by grabbing (no colour conversion) to the end."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


@dataclass(frozen=True)
class ResizeFrames:
    """LVM's frame resize: optional centred square crop, then `cv2.resize(frame, (size, size))`."""

    size: int = IMAGE_SIZE
    center_crop: bool = False

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        if self.center_crop:
            h, w = frame.shape[:2]
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            frame = frame[top : top + side, left : left + side]
        return cv2.resize(frame, (self.size, self.size))


def decode_frames(
    path: str, indices: list[int], seek_threshold: int, resize: ResizeFrames | None = None
) -> list[np.ndarray]:
    """RGB frames at increasing `indices`. Frames between them are grabbed (decoded, never converted
    to arrays); a first index at or past `seek_threshold` is reached by a seek, checked by reading
    the position back, else by grabbing from the start. `resize`, when given, is applied to each
    frame as decoded (before the BGR -> RGB swap, as the LVM code does; the resize works per channel,
    so the order does not change the pixels)."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        pos = 0
        if indices and indices[0] >= seek_threshold:
            if cap.set(cv2.CAP_PROP_POS_FRAMES, indices[0]) and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == indices[0]:
                pos = indices[0]
            else:
                cap.release()
                cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        out = []
        for index in indices:
            while pos < index:
                if not cap.grab():
                    raise _EndOfVideo(pos)
                pos += 1
            ok, bgr = cap.read()
            if not ok or bgr is None:
                raise _EndOfVideo(pos)
            pos += 1
            if resize is not None:
                bgr = resize(bgr)
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return out
    finally:
        cap.release()
