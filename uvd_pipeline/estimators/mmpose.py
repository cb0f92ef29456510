"""`mmpose_pose`: MMPose top-down keypoints as pseudo-labels, drawn as OpenPose skeletons.

For images without keypoint labels (the LVM release used MMPose). The user gives an MMPose config
and checkpoint with COCO's 17-keypoint layout; nothing is downloaded. Person boxes come from the
item's annotations (category "person" or `person_category_id`) when there are any, else the whole
image is one box. Keypoints scoring below `score_threshold` count as invisible. Installing mmpose
on a CPU machine takes some care: docs/POSE.md has a recipe that works (extra `pose`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..errors import BadInput
from ..renderers.boxes import coco_annotations
from ..renderers.openpose import PoseStyle, draw_openpose
from ..types import Item
from .base import Estimator, EstimatorParams

MMPOSE_MISSING = (
    "mmpose_pose needs mmpose (extra 'pose'), which is not installed; docs/POSE.md gives an install recipe"
)


class MMPoseParams(EstimatorParams):
    config: str = Field(description="MMPose model config file (.py)")
    checkpoint: str = Field(description="its weights (.pth), supplied by the user")
    boxes: Literal["annotations", "whole_image"] = Field(
        default="annotations", description="annotations: person boxes from item.meta when present; whole_image: one box"
    )
    person_category_id: int = 1
    score_threshold: float = Field(default=0.3, ge=0, le=1)
    stroke_at_256: float = Field(default=2.0, gt=0, le=16)
    style: PoseStyle = Field(default="controlnet", description="drawing order, as the openpose renderer's style")


def mmpose_available() -> bool:
    try:
        import mmpose.apis  # noqa: F401
    except Exception:
        return False
    return True


def person_boxes(meta: dict[str, Any], person_category_id: int) -> np.ndarray | None:
    """xyxy boxes of the item's person annotations, or None when it has none."""
    boxes = []
    for ann in coco_annotations(meta):
        is_person = ann.get("category_id") == person_category_id or ann.get("category") == "person"
        if is_person and "bbox" in ann and not ann.get("iscrowd"):
            try:
                x, y, w, h = (float(v) for v in ann["bbox"])
            except (TypeError, ValueError) as exc:
                raise BadInput("bad_bbox", f"annotation {ann.get('id')}: bbox {ann['bbox']!r} ({exc})") from None
            boxes.append((x, y, x + w, y + h))
    return np.asarray(boxes, dtype=np.float32) if boxes else None


class MMPoseEstimator(Estimator):
    Params = MMPoseParams

    def load(self, device: str) -> Any:
        try:
            from mmpose.apis import init_model
        except ImportError as exc:
            raise ImportError(f"{MMPOSE_MISSING} ({exc})") from exc
        model = init_model(self.params.config, self.params.checkpoint, device=device)
        n = int(model.dataset_meta.get("num_keypoints", 0)) if getattr(model, "dataset_meta", None) else 0
        if n and n != 17:
            raise ValueError(f"{self.params.config}: the model predicts {n} keypoints; mmpose_pose needs COCO's 17")
        return model

    def predict(self, pixels: np.ndarray, item: Item) -> list[np.ndarray]:
        from mmpose.apis import inference_topdown

        boxes = person_boxes(item.meta, self.params.person_category_id) if self.params.boxes == "annotations" else None
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])
        results = inference_topdown(self.model, bgr, bboxes=boxes, bbox_format="xyxy")
        people = []
        for sample in results:
            inst = sample.pred_instances
            kps = np.asarray(inst.keypoints, dtype=np.float64)
            scores = np.asarray(inst.keypoint_scores, dtype=np.float64)
            for k, s in zip(kps.reshape(-1, kps.shape[-2], 2), scores.reshape(-1, scores.shape[-1])):
                if k.shape[0] != 17:
                    raise ValueError(f"mmpose returned {k.shape[0]} keypoints per person; expected 17")
                visible = (s >= self.params.score_threshold) & np.isfinite(s)
                people.append(np.column_stack([k, np.where(visible, 2.0, 0.0)]))
        return people

    def draw(self, prediction: list[np.ndarray], item: Item) -> np.ndarray | None:
        people = [p for p in prediction if (p[:, 2] > 0).any()]
        if not people:
            return None
        h, w = item.image.pixels.shape[:2]
        return draw_openpose(people, w, h, self.params.stroke_at_256, self.params.style)
