"""Sample multi-view captures (CO3D layout) and pose-tracking videos (PoseTrack 2018 layout).

- `multiview/<category>/<sequence>/images/frame000001.jpg` + `masks/frame000001.png` (greyscale
  foreground mask) + `depth_masks/frame000001.png` (1-bit), as CO3D ships them: an object (a
  box with a lid) seen from a camera that turns around it. One capture is too short for 4 frames
  and one has a mask for its first frame only (both rejects).
- `posetrack/images/train/<video>/000000.jpg` + `posetrack/annotations/train/<video>.json`, the
  PoseTrack 2018 per-video JSON (images with is_labeled, annotations with 17 keypoints in
  PoseTrack's joint order, its person category with the joint names), frames labelled in the
  middle of the video only. One JSON has keypoint lists of the wrong length (a reject).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .pictures import picture

CO3D_CAPTURES = [("teddybear", "101_1", 12), ("teddybear", "102_7", 10), ("teddybear", "103_2", 9),
                 ("hydrant", "201_3", 11), ("hydrant", "202_5", 3)]  # fmt: skip


def _object_view(background: Image.Image, angle: float, colour: tuple[int, int, int]) -> tuple[Image.Image, Image.Image]:
    """A box seen at `angle` (radians) over the background, and its foreground mask."""
    w, h = background.size
    img, mask = background.copy(), Image.new("L", (w, h), 0)
    half = 0.22 * w * (0.6 + 0.4 * abs(np.cos(angle)))
    side = 0.22 * w * 0.4 * abs(np.sin(angle))
    cx, top, bottom = w / 2, h * 0.3, h * 0.8
    front = [(cx - half, top), (cx + half, top), (cx + half, bottom), (cx - half, bottom)]
    right = [(cx + half, top), (cx + half + side, top - 8), (cx + half + side, bottom - 8), (cx + half, bottom)]
    lid = [(cx - half, top), (cx - half + side, top - 8), (cx + half + side, top - 8), (cx + half, top)]
    for poly, shade in ((front, 1.0), (right, 0.7), (lid, 0.85)):
        ImageDraw.Draw(img).polygon(poly, fill=tuple(int(c * shade) for c in colour))
        ImageDraw.Draw(mask).polygon(poly, fill=255)
    return img, mask


def make_multiview(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`multiview/`: CO3D-layout captures (see the module docstring)."""
    base = root / "multiview"
    for category, sequence, n in CO3D_CAPTURES:
        capture = base / category / sequence
        for sub in ("images", "masks", "depth_masks"):
            (capture / sub).mkdir(parents=True, exist_ok=True)
        background = picture(rng, 160, 120)
        colour = tuple(int(c) for c in rng.integers(60, 255, 3))
        turn = float(rng.uniform(0.15, 0.35))
        for i in range(n):
            img, mask = _object_view(background, i * turn, colour)
            stem = f"frame{i + 1:06d}"
            img.save(capture / "images" / f"{stem}.jpg", quality=90)
            if sequence != "103_2" or i == 0:  # its masks stop after the first frame: a reject
                mask.save(capture / "masks" / f"{stem}.png")
            mask.point(lambda v: 255 if v > 127 else 0).convert("1").save(capture / "depth_masks" / f"{stem}.png")
    return {"multiview_captures": len(CO3D_CAPTURES)}


POSETRACK_JOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# A person facing the camera, joint offsets in units of its height / 8 (x right, y down), PoseTrack order.
_BODY = np.array([
    (0, -3.4), (0, -2.9), (0, -4.0), (0.4, -3.5), (-0.4, -3.5), (0.8, -2.7), (-0.8, -2.7), (1.1, -1.6),
    (-1.1, -1.6), (1.2, -0.6), (-1.2, -0.6), (0.5, -0.3), (-0.5, -0.3), (0.55, 1.3), (-0.55, 1.3),
    (0.6, 2.9), (-0.6, 2.9),
])  # fmt: skip
_LINES = [(1, 2), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15),
          (12, 14), (14, 16)]  # fmt: skip


def _posetrack_video(root: Path, rng: np.random.Generator, name: str, vid: int, n: int, people: int) -> dict:
    """Frames and the PoseTrack 2018 JSON of one video; frames 4 .. n - 5 are labelled."""
    folder = root / "posetrack" / "images" / "train" / name
    folder.mkdir(parents=True, exist_ok=True)
    w, h = 192, 144
    background = picture(rng, w, h)
    walkers = [(rng.uniform(40, w - 40), rng.uniform(70, h - 50), rng.uniform(-2, 2), rng.uniform(9, 13))
               for _ in range(people)]  # fmt: skip
    images, annotations = [], []
    for i in range(n):
        image_id = int(f"1{vid:06d}{i:04d}")
        labelled = 4 <= i < n - 4
        frame = background.copy()
        draw = ImageDraw.Draw(frame)
        for track, (x0, y0, vx, unit) in enumerate(walkers):
            pts = _BODY * unit + (x0 + vx * i, y0)
            pts[13:, 0] += np.sin(i / 2.0 + track) * unit * 0.3  # the legs swing
            for a, b in _LINES:
                draw.line([tuple(pts[a]), tuple(pts[b])], fill=(240, 230, 210), width=3)
            if labelled:
                vis = np.full(17, 1.0)
                vis[[3, 4]] = 0  # PoseTrack's ear joints are placeholders, never labelled
                kp = np.column_stack([pts, vis])
                kp[vis == 0, :2] = 0
                x, y = pts.min(axis=0)
                annotations.append({
                    "bbox_head": [float(pts[2, 0] - unit / 2), float(pts[2, 1]), float(unit), float(unit * 1.1)],
                    "keypoints": [round(float(v), 2) for v in kp.ravel()],
                    "track_id": track, "image_id": image_id, "bbox": [float(x), float(y), float(np.ptp(pts[:, 0])),
                    float(np.ptp(pts[:, 1]))], "scores": [], "category_id": 1, "id": image_id * 100 + track,
                })  # fmt: skip
        frame.save(folder / f"{i:06d}.jpg", quality=90)
        images.append({"has_no_densepose": True, "is_labeled": labelled, "file_name": f"images/train/{name}/{i:06d}.jpg",
                       "nframes": n, "frame_id": image_id, "vid_id": f"{vid:06d}", "id": image_id})  # fmt: skip
    category = {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK_JOINTS),
                "skeleton": [[a + 1, b + 1] for a, b in _LINES]}  # fmt: skip
    return {"images": images, "annotations": annotations, "categories": [category]}


def make_posetrack(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`posetrack/`: PoseTrack 2018 layout (see the module docstring)."""
    ann_dir = root / "posetrack" / "annotations" / "train"
    ann_dir.mkdir(parents=True, exist_ok=True)
    videos = [("000101_sample_train", 101, 26, 2), ("000102_sample_train", 102, 24, 1)]
    for name, vid, n, people in videos:
        data = _posetrack_video(root, rng, name, vid, n, people)
        (ann_dir / f"{name}.json").write_text(json.dumps(data))
    bad = _posetrack_video(root, rng, "000103_sample_train", 103, 20, 1)
    for ann in bad["annotations"]:
        ann["keypoints"] = ann["keypoints"][:-3]  # 16 joints listed for 17 names: a reject
    (ann_dir / "000103_sample_train.json").write_text(json.dumps(bad))
    return {"posetrack_videos": len(videos) + 1}
