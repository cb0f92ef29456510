"""Human pose as an OpenPose skeleton on a black canvas.

COCO's 17 keypoints are mapped to OpenPose's 18 (the neck is the midpoint of the shoulders when
both are visible); limbs use OpenPose's pairs and colours, joints are dots in the joint colours,
limbs are ellipses along the bone. A keypoint that is invisible (v = 0) or outside the image is
skipped, and so is every limb that touches it. Two drawing orders, the `style` parameter
(docs/POSE.md says which the LVM paper's figures resemble and why the default is what it is):

- `controlnet` (default): the convention of controlnet_aux's OpenPose annotator, which most
  pose-conditioned image models use: every limb filled opaque (a later limb covers an earlier one),
  then the whole canvas scaled to 60 % (limbs at 60 % of their colour), then the joints drawn on top
  at full colour.
- `openpose`: the original OpenPose demo: joints first, then each limb blended at 60 % over what is
  below it (joint dots under a limb are tinted by it).

Pose estimators (estimators/mmpose.py) draw their predictions with the same `draw_openpose`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..stages import Renderer
from ..types import IMAGE_SIZE, Item
from .boxes import coco_annotations

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
OPENPOSE_KEYPOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip
NECK = 1
#: For each OpenPose joint, the COCO keypoint it comes from (None: the neck, computed).
OPENPOSE_FROM_COCO: tuple[int | None, ...] = tuple(
    None if name == "neck" else COCO_KEYPOINTS.index(name) for name in OPENPOSE_KEYPOINTS
)
#: OpenPose's 17 drawn limbs (body-18 model), as pairs of OpenPose joint indices.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
#: OpenPose's colours (RGB): joint i and limb i use colour i.
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
LIMB_ALPHA = 0.6
PoseStyle = Literal["controlnet", "openpose"]


def coco_to_openpose(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    """(17, 3) COCO (x, y, v) -> (18, 3) OpenPose (x, y, visible 0/1); off-image points are invisible."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < width) & (kp[:, 1] >= 0) & (kp[:, 1] < height)
    visible = (kp[:, 2] > 0) & inside & np.isfinite(kp[:, :2]).all(axis=1)
    out = np.zeros((18, 3), dtype=np.float64)
    for j, src in enumerate(OPENPOSE_FROM_COCO):
        if src is not None and visible[src]:
            out[j] = (kp[src, 0], kp[src, 1], 1.0)
    ls, rs = COCO_KEYPOINTS.index("left_shoulder"), COCO_KEYPOINTS.index("right_shoulder")
    if visible[ls] and visible[rs]:
        out[NECK] = ((kp[ls, 0] + kp[rs, 0]) / 2, (kp[ls, 1] + kp[rs, 1]) / 2, 1.0)
    return out


def stroke_size(width: int, height: int, at_256: float = 2.0) -> int:
    """Limb half-width and joint radius at native size (about `at_256` pixels after the resize)."""
    return max(1, math.ceil(at_256 * max(width, height) / IMAGE_SIZE))


def _limb_polygon(a: np.ndarray, b: np.ndarray, half_width: float, steps: int = 36) -> list[tuple[float, float]]:
    """The ellipse OpenPose draws for a limb: centred between a and b, long axis along a-b."""
    cx, cy = (a + b) / 2
    half_len = float(np.hypot(*(b - a))) / 2
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    ca, sa = math.cos(angle), math.sin(angle)
    pts = []
    for k in range(steps):
        t = 2 * math.pi * k / steps
        ex, ey = half_len * math.cos(t), half_width * math.sin(t)
        pts.append((cx + ex * ca - ey * sa, cy + ex * sa + ey * ca))
    return pts


def draw_openpose(
    people: list[np.ndarray], width: int, height: int, at_256: float = 2.0, style: PoseStyle = "controlnet"
) -> np.ndarray:
    """People given as (17, 3) COCO keypoint arrays, drawn as OpenPose skeletons on black."""
    size = stroke_size(width, height, at_256)
    joints = [coco_to_openpose(p, width, height) for p in people]
    if style == "controlnet":
        return _draw_limbs_then_joints(joints, width, height, size)
    if style == "openpose":
        return _draw_joints_then_blend_limbs(joints, width, height, size)
    raise ValueError(f"style must be 'controlnet' or 'openpose', got {style!r}")


def _limb_mask(a: np.ndarray, b: np.ndarray, half_width: float, width: int, height: int) -> np.ndarray:
    mask_img = PILImage.new("L", (width, height), 0)
    ImageDraw.Draw(mask_img).polygon(_limb_polygon(a, b, half_width), fill=255)
    return np.asarray(mask_img) > 0


def _draw_joints(img: PILImage.Image, joints: list[np.ndarray], size: int, joint_outer: bool) -> None:
    """Joint dots; `joint_outer`: loop joints outside, people inside (which dot covers which)."""
    draw = ImageDraw.Draw(img)
    order = (
        [(j, person) for j in range(len(OPENPOSE_KEYPOINTS)) for person in joints]
        if joint_outer
        else [(j, person) for person in joints for j in range(len(OPENPOSE_KEYPOINTS))]
    )
    for j, person in order:
        x, y, v = person[j]
        if v > 0:
            draw.ellipse([x - size, y - size, x + size, y + size], fill=COLOURS[j])


def _draw_limbs_then_joints(joints: list[np.ndarray], width: int, height: int, size: int) -> np.ndarray:
    """controlnet_aux's order: opaque limbs (limb by limb, each over every person), the canvas at
    60 % (truncated to integers), then full-colour joints (joint by joint) on top."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for i, (ja, jb) in enumerate(LIMBS):
        for person in joints:
            if person[ja, 2] > 0 and person[jb, 2] > 0:
                canvas[_limb_mask(person[ja, :2], person[jb, :2], size, width, height)] = COLOURS[i]
    canvas = (canvas * LIMB_ALPHA).astype(np.uint8)
    img = PILImage.fromarray(canvas)
    _draw_joints(img, joints, size, joint_outer=True)
    return np.asarray(img, dtype=np.uint8).copy()


def _draw_joints_then_blend_limbs(joints: list[np.ndarray], width: int, height: int, size: int) -> np.ndarray:
    """The OpenPose demo's order: joints, then each limb blended at 60 % over what is below."""
    img = PILImage.fromarray(np.zeros((height, width, 3), dtype=np.uint8))
    _draw_joints(img, joints, size, joint_outer=False)
    canvas = np.asarray(img, dtype=np.uint8).copy()
    for person in joints:
        for i, (ja, jb) in enumerate(LIMBS):
            if person[ja, 2] > 0 and person[jb, 2] > 0:
                mask = _limb_mask(person[ja, :2], person[jb, :2], size, width, height)
                blended = (1 - LIMB_ALPHA) * canvas[mask] + LIMB_ALPHA * np.array(COLOURS[i], dtype=np.float64)
                canvas[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return canvas


def people_from_meta(meta: dict[str, Any]) -> list[np.ndarray]:
    """COCO keypoint lists of meta["annotations"] as (17, 3) arrays; those with no visible point are left out."""
    people = []
    for ann in coco_annotations(meta):
        kp = ann.get("keypoints")
        if kp is None:
            continue
        try:
            arr = np.asarray(kp, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise BadInput("bad_keypoints", f"annotation {ann.get('id')}: {exc}") from None
        if arr.size != 51:
            raise BadInput("bad_keypoints", f"annotation {ann.get('id')}: {arr.size} numbers, expected 17 x 3")
        arr = arr.reshape(17, 3)
        if (arr[:, 2] > 0).any():
            people.append(arr)
    return people


class OpenPoseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stroke_at_256: float = Field(default=2.0, gt=0, le=16, description="limb half-width / joint radius at 256")
    style: PoseStyle = Field(
        default="controlnet", description="controlnet: limbs, then joints on top; openpose: joints, limbs blended over"
    )


class OpenPoseRenderer(Renderer):
    """`openpose`: meta["annotations"][i]["keypoints"] (COCO 17 x (x, y, v)) as an OpenPose skeleton."""

    Params = OpenPoseParams

    def render(self, item: Item) -> np.ndarray | None:
        people = people_from_meta(item.meta)
        if not people:
            return None
        h, w = item.image.pixels.shape[:2]
        return draw_openpose(people, w, h, self.params.stroke_at_256, self.params.style)
