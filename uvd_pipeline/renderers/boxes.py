"""Detection as an image: the picture with a colour-coded box around each object.

One fixed colour per category (`palette.box_colour`), so the model can learn the colour code; the
line width grows with the image so that boxes are still about 2 pixels wide after the resize to
256x256.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..stages import Renderer
from ..types import IMAGE_SIZE, Item
from .palette import box_colour


class BoxesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width_at_256: float = Field(default=2.0, gt=0, le=16, description="line width after the resize to 256")
    include_crowd: bool = Field(default=False, description="also draw iscrowd=1 regions")


def line_width(width: int, height: int, width_at_256: float = 2.0) -> int:
    """Pixels of line at native size that become about `width_at_256` pixels at 256x256."""
    return max(1, math.ceil(width_at_256 * max(width, height) / IMAGE_SIZE))


def draw_boxes(pixels: np.ndarray, boxes: list[tuple[list[float], int]], width_at_256: float = 2.0) -> np.ndarray:
    """Draw (bbox [x, y, w, h], category id) pairs on a copy of `pixels`; boxes are clipped to the image."""
    h, w = pixels.shape[:2]
    img = PILImage.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    lw = line_width(w, h, width_at_256)
    for (x, y, bw, bh), category in boxes:
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(w - 1.0, x + bw), min(h - 1.0, y + bh)
        if x1 < x0 or y1 < y0:
            continue  # entirely outside the picture
        draw.rectangle([round(x0), round(y0), round(x1), round(y1)], outline=box_colour(category), width=lw)
    return np.asarray(img, dtype=np.uint8)


def coco_annotations(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """meta["annotations"] as the coco source writes it, a list of dicts ([] when absent); any
    other value is BadInput, so that a malformed item is a reject rather than a crash. The COCO
    renderers (boxes, openpose, segmentation) and the mmpose estimator read it through here."""
    anns = meta.get("annotations")
    if anns is None:
        return []
    if not isinstance(anns, list) or not all(isinstance(a, dict) for a in anns):
        shown = type(anns).__name__ if not isinstance(anns, list) else "a list holding non-dicts"
        raise BadInput("bad_annotation", f"meta['annotations'] must be a list of annotation dicts, got {shown}")
    return anns


def _boxes(meta: dict[str, Any], include_crowd: bool) -> list[tuple[list[float], int]]:
    out = []
    for ann in coco_annotations(meta):
        if "bbox" not in ann or (ann.get("iscrowd") and not include_crowd):
            continue
        try:
            bbox = [float(v) for v in ann["bbox"]]
            category = int(ann["category_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput("bad_annotation", f"annotation {ann.get('id')}: {exc}") from None
        if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[2] <= 0 or bbox[3] <= 0:
            raise BadInput("bad_bbox", f"annotation {ann.get('id')}: bbox {ann['bbox']}")
        out.append((bbox, category))
    return out


class BoxesRenderer(Renderer):
    """`coco_boxes`: meta["annotations"][i] = {"bbox": [x, y, w, h], "category_id": int}."""

    Params = BoxesParams

    def render(self, item: Item) -> np.ndarray | None:
        boxes = _boxes(item.meta, self.params.include_crowd)
        if not boxes:
            return None
        return draw_boxes(item.image.pixels, boxes, self.params.width_at_256)
