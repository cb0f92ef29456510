"""COCO instance masks as a semantic map: category ids coloured through the fixed 256-colour palette.

Masks are decoded by pycocotools. Larger objects are painted first so that small ones stay
visible on top; id 0 (black) is background. The rendering is resized with nearest-neighbour so the
colours stay exact and `palette.colours_to_ids` inverts it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..stages import Renderer
from ..types import Item
from .boxes import coco_annotations
from .coco_masks import decode_segmentation
from .palette import ids_to_colours


class CocoSegmentationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_crowd: bool = Field(default=True, description="paint iscrowd=1 regions too")


def label_map(meta: dict, width: int, height: int, include_crowd: bool = True) -> np.ndarray | None:
    """H x W uint8 class ids from meta["annotations"] segmentations; None if there are none."""
    anns = [a for a in coco_annotations(meta) if "segmentation" in a and (include_crowd or not a.get("iscrowd"))]
    if not anns:
        return None
    masks = []
    for ann in anns:
        where = f"annotation {ann.get('id')}"
        try:
            ann_id, category = int(ann.get("id", 0)), int(ann["category_id"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise BadInput("bad_annotation", f"{where}: needs int 'id' and 'category_id' ({exc!r})") from None
        mask = decode_segmentation(ann["segmentation"], width, height, where)
        masks.append((int(mask.sum()), ann_id, category, mask))
    ids = np.zeros((height, width), dtype=np.int64)
    for _, _, category, mask in sorted(masks, key=lambda m: (-m[0], m[1])):
        ids[mask] = category
    return ids


class CocoSegmentationRenderer(Renderer):
    """`coco_segmentation`: meta["annotations"][i] = {"segmentation": polygons | RLE, "category_id"}."""

    Params = CocoSegmentationParams
    resample: ClassVar[str] = "nearest"

    def render(self, item: Item) -> np.ndarray | None:
        h, w = item.image.pixels.shape[:2]
        ids = label_map(item.meta, w, h, self.params.include_crowd)
        return None if ids is None else ids_to_colours(ids)
