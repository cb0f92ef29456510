"""Fixed colours: one 256-colour palette for segmentation ids, one colour per box category.

The segmentation palette is the PASCAL-VOC style bit-interleaved colour map: id 0 is black, and
every id in 0..255 gets a different colour, so a rendered map can be turned back into ids with
`colours_to_ids` (after nearest-neighbour resizing, which keeps colours exact). It is the same for
every dataset and every run; `palette_json()` gives it in a form to store beside the output.
"""

from __future__ import annotations

import colorsys
import json
from functools import lru_cache

import numpy as np

from ..errors import BadInput

PALETTE_SIZE = 256
PALETTE_NAME = "uvd-seg-256-v1"


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    pal = np.zeros((PALETTE_SIZE, 3), dtype=np.uint8)
    for index in range(PALETTE_SIZE):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        pal[index] = (r, g, b)
    pal.setflags(write=False)
    return pal


def segmentation_palette() -> np.ndarray:
    """The palette as a read-only (256, 3) uint8 array; row i is the colour of class id i."""
    return _palette()


def palette_json() -> str:
    """The palette as JSON ({"name", "colors": [[r, g, b], ...]}) to store with a dataset."""
    return json.dumps({"name": PALETTE_NAME, "colors": _palette().tolist()})


def ids_to_colours(ids: np.ndarray) -> np.ndarray:
    """An integer id map (H x W) coloured through the palette -> H x W x 3 uint8."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise BadInput("bad_segmentation", f"class ids must be integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= PALETTE_SIZE):
        raise BadInput(
            "bad_segmentation",
            f"class ids must lie in 0..{PALETTE_SIZE - 1} for the fixed palette, got {ids.min()}..{ids.max()}",
        )
    return _palette()[ids.astype(np.intp)]


@lru_cache(maxsize=1)
def _inverse() -> dict[int, int]:
    packed = _pack(_palette())
    return {int(p): i for i, p in enumerate(packed)}


def _pack(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def colours_to_ids(rgb: np.ndarray) -> np.ndarray:
    """Invert `ids_to_colours`: H x W x 3 uint8 -> H x W int16 ids (-1 where a colour is not in the palette)."""
    packed = _pack(np.asarray(rgb))
    uniq, inverse = np.unique(packed, return_inverse=True)
    lookup = _inverse()
    mapped = np.array([lookup.get(int(u), -1) for u in uniq], dtype=np.int16)
    return mapped[inverse].reshape(packed.shape)


def box_colour(category_id: int) -> tuple[int, int, int]:
    """A bright colour fixed by the category id (golden-ratio hue steps), the same in every image."""
    hue = (int(category_id) * 0.6180339887498949) % 1.0
    sat = 0.65 + 0.35 * ((int(category_id) * 7) % 3) / 2
    r, g, b = colorsys.hsv_to_rgb(hue, sat, 1.0)
    return (round(r * 255), round(g * 255), round(b * 255))
