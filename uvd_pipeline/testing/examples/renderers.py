"""Conformance examples of the built-in renderers and estimators: items as the built-in source that
feeds each one in a recipe reads them, and bad_items (malformed annotations) that must be rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...types import Image, Item
from ..report import Skip
from ..samples import sample_item
from .inputs import coco_items, dense_items, panoptic_items, with_meta


def coco_boxes(tmp_dir: Path) -> dict[str, Any]:
    """Sample COCO images as the `coco` source reads them (several categories, a crowd
    region); bad_items: a box of negative width."""
    items = coco_items(tmp_dir, "boxes")
    bad = with_meta(items[0], annotations=[{"id": 1, "category_id": 3, "bbox": [10, 10, -5, 8]}])
    return {"items": items, "bad_items": [bad]}


def openpose(tmp_dir: Path) -> dict[str, Any]:
    """Sample people as the `coco` source reads their keypoints (some labelled but occluded,
    v = 1); bad_items: a keypoint list one number short."""
    items = coco_items(tmp_dir, "keypoints")
    short = [10.0, 10.0, 2.0] * 16 + [1.0, 1.0]
    bad = with_meta(items[0], annotations=[{"id": 1, "category_id": 1, "keypoints": short}])
    return {"items": items, "bad_items": [bad]}


def coco_segmentation(tmp_dir: Path) -> dict[str, Any]:
    """Sample COCO polygons and a crowd RLE as the `coco` source reads them; bad_items: a
    polygon of 5 coordinates."""
    items = coco_items(tmp_dir, "segmentation")
    bad = with_meta(items[0], annotations=[{"id": 1, "category_id": 3, "segmentation": [[5, 5, 25, 5, 25]]}])
    return {"items": items, "bad_items": [bad]}


def coco_panoptic(tmp_dir: Path) -> dict[str, Any]:
    """Sample panoptic PNGs as the `coco_panoptic` source names them; bad_items: an image
    given the PNG of another image (of another size)."""
    items = panoptic_items(tmp_dir)
    return {"items": items, "bad_items": [with_meta(items[0], panoptic=items[1].meta["panoptic"])]}


def dense_map(tmp_dir: Path) -> dict[str, Any]:
    """Sample scenes as the `dense_maps` source reads them (every map kind); bad_items: an
    image given the maps of another scene (of another size)."""
    items = dense_items(tmp_dir)
    return {"items": items, "bad_items": [with_meta(items[0], maps=items[1].meta["maps"])]}


def canny_edges(tmp_dir: Path) -> dict[str, Any]:
    """Sample pictures at two sizes, and a flat grey image: no edge, so an all-black map."""
    flat = Item("flat_grey.png", Image("flat_grey", np.full((40, 60, 3), 128, np.uint8)))
    return {"items": [sample_item(0), sample_item(1, (120, 80)), flat]}


def mmpose_pose(tmp_dir: Path) -> dict[str, Any]:
    """A tiny top-down model with seeded random weights (nothing is downloaded) on sample
    COCO people, boxed by their annotations. Without mmpose there is nothing to run: the
    example is skipped with the reason."""
    from ...estimators.mmpose import MMPOSE_MISSING, mmpose_available
    from .models import write_tiny_mmpose_model

    if not mmpose_available():
        raise Skip(MMPOSE_MISSING)
    config, checkpoint = write_tiny_mmpose_model(tmp_dir / "mmpose")
    params = {"config": config, "checkpoint": checkpoint, "device": "cpu", "score_threshold": 0.0}
    return {"params": params, "items": coco_items(tmp_dir, "keypoints")}


def onnx_map(tmp_dir: Path) -> dict[str, Any]:
    """A tiny depth model (depth = 1 + mean of the normalised channels) written with onnx's
    helpers, on sample pictures. Without onnxruntime the example is skipped with the reason."""
    from ...estimators.onnx_map import ONNX_MISSING, onnxruntime_available
    from ...samples.onnx_models import write_depth_model

    if not onnxruntime_available():
        raise Skip(ONNX_MISSING)
    model = write_depth_model(tmp_dir / "depth.onnx")
    params = {"model": str(model), "output": "depth", "input_size": 32, "device": "cpu"}
    return {"params": params, "items": [sample_item(0), sample_item(1, (120, 80))]}


EXAMPLES = {
    "coco_boxes": coco_boxes,
    "openpose": openpose,
    "coco_segmentation": coco_segmentation,
    "coco_panoptic": coco_panoptic,
    "depth_map": dense_map,
    "normal_map": dense_map,
    "edge_map": dense_map,
    "segmentation_map": dense_map,
    "canny_edges": canny_edges,
    "mmpose_pose": mmpose_pose,
    "onnx_map": onnx_map,
}
