"""COCO panoptic segmentation as a semantic map through the fixed 256-colour palette.

A panoptic PNG stores a segment id per pixel as id = R + 256 G + 256^2 B; the item's
meta["panoptic"]["segments"] maps segment ids to category ids (COCO panoptic ids are 1..200, so
they fit the palette). Pixels of id 0 (void) or of a segment the annotation does not list stay
black (id 0). Resized with nearest-neighbour, like every label map.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInput
from ..stages import Renderer
from ..types import Item
from .dense import load_map
from .palette import ids_to_colours


def panoptic_segment_ids(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 panoptic PNG pixels -> H x W int64 segment ids."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInput("bad_panoptic_png", f"expected an 8-bit RGB PNG, got {rgb.dtype} {rgb.shape}")
    c = rgb.astype(np.int64)
    return c[..., 0] + 256 * c[..., 1] + 256 * 256 * c[..., 2]


def panoptic_categories(segment_ids: np.ndarray, segments: list[dict]) -> np.ndarray:
    """Category id per pixel; unlisted segments and void are 0."""
    if not segments:
        return np.zeros(segment_ids.shape, dtype=np.int64)
    seg = np.array([s["id"] for s in segments], dtype=np.int64)
    cat = np.array([s["category_id"] for s in segments], dtype=np.int64)
    order = np.argsort(seg)
    seg, cat = seg[order], cat[order]
    pos = np.clip(np.searchsorted(seg, segment_ids), 0, len(seg) - 1)
    return np.where(seg[pos] == segment_ids, cat[pos], 0)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_panoptic(pan: Any) -> tuple[str, list[dict]]:
    """(PNG URL, segments) of meta["panoptic"] as the coco_panoptic source writes it, or BadInput."""
    if not isinstance(pan, dict) or not isinstance(pan.get("file"), str) or not isinstance(pan.get("segments"), list):
        shown = type(pan).__name__
        raise BadInput("bad_panoptic", f"meta['panoptic'] must be {{'file': str, 'segments': list}}, got {shown}")
    for k, seg in enumerate(pan["segments"]):
        if not isinstance(seg, dict) or not _is_int(seg.get("id")) or not _is_int(seg.get("category_id")):
            raise BadInput("bad_panoptic", f"meta['panoptic']['segments'][{k}] needs int 'id' and 'category_id'")
    return pan["file"], pan["segments"]


class CocoPanopticRenderer(Renderer):
    """`coco_panoptic`: meta["panoptic"] = {"file": PNG URL, "segments": [{"id", "category_id"}]}."""

    resample: ClassVar[str] = "nearest"

    def render(self, item: Item) -> np.ndarray | None:
        pan = item.meta.get("panoptic")
        if not pan:
            return None
        url, segments = check_panoptic(pan)
        rgb = load_map(url)
        h, w = item.image.pixels.shape[:2]
        if rgb.shape[:2] != (h, w):
            raise BadInput("size_mismatch", f"{url}: PNG is {rgb.shape[1]}x{rgb.shape[0]}, the image {w}x{h}")
        return ids_to_colours(panoptic_categories(panoptic_segment_ids(rgb), segments))
