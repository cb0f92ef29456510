"""Sample videos in real formats: video files, frame folders, and annotated videos.

Each scene is a photo-like background with a few coloured shapes moving and bouncing, so that
frames differ and annotations (boxes, masks, keypoints) follow real motion. Files are written with
OpenCV (mp4v in .mp4/.mov, MJPG and XVID in .avi), codecs its wheel can encode.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .pictures import picture


@dataclass
class Mover:
    """A shape moving in a straight line and bouncing off the frame's edges."""

    x: float
    y: float
    vx: float
    vy: float
    r: float
    colour: tuple[int, int, int]
    label: int  # segment / category id

    def step(self, w: int, h: int) -> None:
        self.x, self.y = self.x + self.vx, self.y + self.vy
        if not self.r <= self.x <= w - self.r:
            self.vx = -self.vx
            self.x = float(np.clip(self.x, self.r, w - self.r))
        if not self.r <= self.y <= h - self.r:
            self.vy = -self.vy
            self.y = float(np.clip(self.y, self.r, h - self.r))

    def box(self) -> tuple[float, float, float, float]:
        return self.x - self.r, self.y - self.r, self.x + self.r, self.y + self.r


class Scene:
    """A deterministic moving scene; `frames(n)` yields (RGB frame, label map, movers)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, n_movers: int = 3) -> None:
        self.w, self.h = width, height
        self.background = np.asarray(picture(rng, width, height), dtype=np.uint8)
        self.movers = []
        for i in range(n_movers):
            r = float(rng.uniform(0.08, 0.16) * min(width, height))
            self.movers.append(
                Mover(
                    x=float(rng.uniform(r, width - r)),
                    y=float(rng.uniform(r, height - r)),
                    vx=float(rng.uniform(-3, 3)),
                    vy=float(rng.uniform(-3, 3)),
                    r=r,
                    colour=tuple(int(c) for c in rng.integers(30, 255, 3)),
                    label=i + 1,
                )
            )

    def frames(self, n: int):
        import cv2

        for _ in range(n):
            frame = self.background.copy()
            labels = np.zeros((self.h, self.w), np.uint8)
            for m in self.movers:
                centre = (int(round(m.x)), int(round(m.y)))
                cv2.circle(frame, centre, int(m.r), m.colour, -1)
                cv2.circle(labels, centre, int(m.r), m.label, -1)
            yield frame, labels, self.movers
            for m in self.movers:
                m.step(self.w, self.h)


# name, fourcc, frames, size: enough for strides 30, 20, 10; one too short. Only containers whose
# muxer writes the same bytes every time: OpenCV's Matroska/WebM muxer stores a random segment UID
# and the date, which would change the video ids (tests write webm/mkv files themselves).
VIDEO_FILES = [
    ("walk.mp4", "mp4v", 460, (320, 240)),
    ("street.avi", "MJPG", 320, (256, 192)),
    ("river.mov", "mp4v", 200, (320, 180)),
    ("park.avi", "XVID", 160, (240, 240)),
    ("too_short.mp4", "mp4v", 60, (160, 120)),
]


def write_video(path: Path, fourcc: str, frames, fps: float = 25.0) -> int:
    """Write RGB frames with OpenCV; returns the count written."""
    import cv2

    writer = None
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"{path}: OpenCV cannot write {fourcc} here")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            n += 1
    if writer is not None:
        writer.release()
    return n


def make_videos(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`videos/`: mp4, avi and mov files, one too short for any stride (the source shrinks its
    stride to fit, as LVM does, unless `short_video: reject`), one cut short, one corrupt."""
    base = root / "videos"
    base.mkdir(parents=True, exist_ok=True)
    for name, fourcc, n, (w, h) in VIDEO_FILES:
        scene = Scene(rng, w, h)
        write_video(base / name, fourcc, (f for f, _, _ in scene.frames(n)))
    (base / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(rng.integers(0, 256, 4000, dtype=np.uint8)))
    # Cut short: the AVI header still says 320 frames; about 190 decode (the source re-plans on those).
    street = (base / "street.avi").read_bytes()
    (base / "truncated.avi").write_bytes(street[: len(street) * 6 // 10])
    return {"videos": len(VIDEO_FILES) + 1, "bad_videos": 1}


def make_frame_folders(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`frames/<video>/000001.jpg`: two frame-folder videos and one too short for stride 10 (shrunk)."""
    base = root / "frames"
    folders = [("dance", 170, (192, 144)), ("cooking", 200, (160, 160)), ("blink", 40, (128, 96))]
    for name, n, (w, h) in folders:
        folder = base / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, (frame, _, _) in enumerate(Scene(rng, w, h).frames(n), start=1):
            Image.fromarray(frame).save(folder / f"{i:06d}.jpg", quality=85)
    return {"frame_folders": len(folders)}


# --- annotated videos ---------------------------------------------------------------------------

MAT_HEADER = "MATLAB 5.0 MAT-file, written by uvd samples"
JHMDB_JOINTS = 15  # JHMDB's puppet joints: neck, belly, face, r/l shoulder, l/r hip, ... (x, y) each


def make_vipseg(root: Path, rng: np.random.Generator, videos: int = 2, n: int = 24) -> dict[str, int]:
    """`vipseg/imgs/<video>/<frame>.jpg` + `vipseg/panomasks/<video>/<frame>.png` (palette PNG of ids)."""
    base = root / "vipseg"
    palette = _palette()
    for v in range(videos):
        name = f"{v + 1:03d}_clip"
        (base / "imgs" / name).mkdir(parents=True, exist_ok=True)
        (base / "panomasks" / name).mkdir(parents=True, exist_ok=True)
        for i, (frame, labels, _) in enumerate(Scene(rng, 224, 160).frames(n)):
            stem = f"{i * 5:08d}"  # VIPSeg names frames by their time stamp, not a counter
            Image.fromarray(frame).save(base / "imgs" / name / f"{stem}.jpg", quality=90)
            mask = Image.fromarray(labels, mode="P")
            mask.putpalette(palette)
            mask.save(base / "panomasks" / name / f"{stem}.png")
    # Frame 5's mask is cut short and every clip of this 12-frame video holds it: the frame becomes a
    # reject when its mask is drawn, so does the clip. Frame 11 has no mask: it is not annotated.
    bad = "003_broken_mask"
    (base / "imgs" / bad).mkdir(parents=True, exist_ok=True)
    (base / "panomasks" / bad).mkdir(parents=True, exist_ok=True)
    for i, (frame, labels, _) in enumerate(Scene(rng, 96, 96).frames(12)):
        Image.fromarray(frame).save(base / "imgs" / bad / f"{i * 5:08d}.jpg")
        if i < 11:
            mask = Image.fromarray(labels, mode="P")
            mask.putpalette(palette)
            buf = io.BytesIO()
            mask.save(buf, format="PNG")
            data = buf.getvalue()
            (base / "panomasks" / bad / f"{i * 5:08d}.png").write_bytes(data[: len(data) // 2] if i == 5 else data)
    return {"vipseg_videos": videos + 1}


def _palette() -> list[int]:
    rng = np.random.default_rng(1234)
    colours = rng.integers(0, 256, (256, 3))
    colours[0] = 0
    return [int(c) for c in colours.reshape(-1)]


def make_jhmdb(root: Path, rng: np.random.Generator, videos: int = 2, n: int = 24) -> dict[str, int]:
    """`jhmdb/Frames/<class>/<video>/00001.png` + `jhmdb/joint_positions/<class>/<video>/joint_positions.mat`
    with `pos_img` of shape (2, 15, frames) in pixels, as JHMDB ships them."""
    from scipy.io import savemat

    for v in range(videos):
        action, name = ("wave", "jump")[v % 2], f"person_{v:02d}"
        frames_dir = root / "jhmdb" / "Frames" / action / name
        joints_dir = root / "jhmdb" / "joint_positions" / action / name
        frames_dir.mkdir(parents=True, exist_ok=True)
        joints_dir.mkdir(parents=True, exist_ok=True)
        pos = np.zeros((2, JHMDB_JOINTS, n))
        scene = Scene(rng, 240, 180, n_movers=1)
        for i, (frame, _, movers) in enumerate(scene.frames(n)):
            m = movers[0]
            joints = _puppet(m.x, m.y, m.r, phase=i / 4.0)
            img = frame.copy()
            for x, y in joints:
                img[max(0, int(y) - 1) : int(y) + 2, max(0, int(x) - 1) : int(x) + 2] = 255
            Image.fromarray(img).save(frames_dir / f"{i + 1:05d}.png")
            pos[:, :, i] = joints.T
        buf = io.BytesIO()
        savemat(buf, {"pos_img": pos, "scale": np.ones(n)})
        data = buf.getvalue()  # the 116-byte text header holds the date: fix it so files repeat
        (joints_dir / "joint_positions.mat").write_bytes(MAT_HEADER.ljust(116).encode() + data[116:])
    # Frames without their joint_positions.mat: a reject (missing_annotation).
    orphan = root / "jhmdb" / "Frames" / "wave" / "no_joints"
    orphan.mkdir(parents=True, exist_ok=True)
    for i, (frame, _, _) in enumerate(Scene(rng, 64, 48, n_movers=1).frames(10)):
        Image.fromarray(frame).save(orphan / f"{i + 1:05d}.png")
    return {"jhmdb_videos": videos + 1}


def _puppet(cx: float, cy: float, r: float, phase: float) -> np.ndarray:
    """15 JHMDB joints (x, y), in JHMDB's order, of a stick figure facing the camera at (cx, cy)."""
    s = r / 2.0
    swing = np.sin(phase) * s
    return np.array(
        [
            (cx, cy - 2 * s),  # 1 neck
            (cx, cy),  # 2 belly
            (cx, cy - 3 * s),  # 3 face
            (cx - s, cy - 2 * s),  # 4 right shoulder
            (cx + s, cy - 2 * s),  # 5 left shoulder
            (cx - 0.6 * s, cy + s),  # 6 right hip
            (cx + 0.6 * s, cy + s),  # 7 left hip
            (cx - 1.6 * s, cy - s + swing),  # 8 right elbow
            (cx + 1.6 * s, cy - s - swing),  # 9 left elbow
            (cx - 0.7 * s, cy + 2.2 * s),  # 10 right knee
            (cx + 0.7 * s, cy + 2.2 * s),  # 11 left knee
            (cx - 2.2 * s, cy + swing),  # 12 right wrist
            (cx + 2.2 * s, cy - swing),  # 13 left wrist
            (cx - 0.8 * s, cy + 3.4 * s),  # 14 right ankle
            (cx + 0.8 * s, cy + 3.4 * s),  # 15 left ankle
        ]
    )


def make_ava(
    root: Path, rng: np.random.Generator, videos: int = 2, seconds: int = 12, fps: float = 10.0
) -> dict[str, int]:
    """`ava/videos/<id>.mp4` + `ava/annotations.csv` in AVA's layout: video_id, middle-frame timestamp
    (seconds), x1, y1, x2, y2 (normalised to [0, 1]), action_id, person_id; one row per person box at
    every annotated second (AVA annotates one keyframe a second)."""
    base = root / "ava"
    (base / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    first_second = 2  # AVA's timestamps start some way into the video (902 s in the real set)
    for v in range(videos):
        vid = f"sample{v:02d}ava"
        w, h = 256, 192
        scene = Scene(rng, w, h, n_movers=2)
        frames = []
        for i, (frame, _, movers) in enumerate(scene.frames(int(seconds * fps))):
            frames.append(frame)
            t = i / fps
            if t >= first_second and abs(t - round(t)) < 1e-9:
                for person, m in enumerate(movers):
                    x1, y1, x2, y2 = m.box()
                    corners = [round(c, 4) for c in (x1 / w, y1 / h, x2 / w, y2 / h)]
                    rows.append([vid, int(round(t)), *corners, 12, person])
                    if person == 0:  # a person doing two things: one box, two actions (two rows)
                        rows.append([vid, int(round(t)), *corners, 79, person])
        write_video(base / "videos" / f"{vid}.mp4", "mp4v", frames, fps=fps)
    rows.append(["no_such_video", 3, 0.1, 0.1, 0.5, 0.5, 12, 0])  # rows for a missing video: a reject
    rows.append(["sample00ava", "three", 0.1, 0.1, 0.5, 0.5, 12, 0])  # a malformed row: a reject
    with open(base / "annotations.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return {"ava_videos": videos}


def make_annotated_videos(root: Path, rng: np.random.Generator) -> dict[str, int]:
    counts = {}
    for make in (make_vipseg, make_jhmdb, make_ava):
        counts.update(make(root, rng))
    return counts
