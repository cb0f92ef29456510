"""COCO segmentation (polygons, RLE) checked and decoded with pycocotools.

pycocotools' C code trusts its input: a NaN or huge polygon coordinate can kill the process and a
short RLE decodes to uninitialised memory. So every segmentation is checked here first, and the
checks raise BadInput (a reject with a reason), never a crash.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real
from typing import Any

import numpy as np

from ..errors import BadInput

#: how far (pixels, or this fraction of the side if larger) a polygon may stray outside the image
POLYGON_MARGIN_PX = 2.0
POLYGON_MARGIN_FRACTION = 0.01


def _mask_api():
    try:
        from pycocotools import mask
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("COCO masks need pycocotools: pip install 'uvd-pipeline[coco]'") from exc
    return mask


def _decode(mask_api, rle) -> np.ndarray:
    with warnings.catch_warnings():  # pycocotools' own numpy-2 copy= deprecation, not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_api.decode(rle)


def _is_number(v: Any) -> bool:
    try:
        return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))
    except OverflowError:  # an integer beyond float range
        return False


def check_segmentation(seg: Any, width: int, height: int, where: str = "") -> Any:
    """A safe copy of a COCO segmentation (polygons clipped to the image), or BadInput."""
    if isinstance(seg, list):
        return _check_polygons(seg, width, height, where)
    if isinstance(seg, dict):
        return _check_rle(seg, width, height, where)
    raise BadInput("bad_segmentation", f"{where}: segmentation is {type(seg).__name__}, not polygons or RLE")


def _check_polygons(polys: list, width: int, height: int, where: str) -> list[list[float]]:
    if not polys:
        raise BadInput("bad_polygon", f"{where}: empty polygon list")
    mx = max(POLYGON_MARGIN_PX, POLYGON_MARGIN_FRACTION * width)
    my = max(POLYGON_MARGIN_PX, POLYGON_MARGIN_FRACTION * height)
    out = []
    for k, poly in enumerate(polys):
        if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
            n = len(poly) if isinstance(poly, list) else type(poly).__name__
            raise BadInput("bad_polygon", f"{where}: polygon {k} has {n} coordinates; needs an even number >= 6")
        if not all(_is_number(v) for v in poly):
            raise BadInput("bad_polygon", f"{where}: polygon {k} holds a non-number or non-finite coordinate")
        xs = np.asarray(poly[0::2], dtype=np.float64)
        ys = np.asarray(poly[1::2], dtype=np.float64)
        if xs.min() < -mx or xs.max() > width + mx or ys.min() < -my or ys.max() > height + my:
            raise BadInput(
                "bad_polygon",
                f"{where}: polygon {k} spans x {xs.min():g}..{xs.max():g}, y {ys.min():g}..{ys.max():g}, "
                f"outside the {width}x{height} image",
            )
        clipped = np.empty(len(poly), dtype=np.float64)
        clipped[0::2] = np.clip(xs, 0, width)
        clipped[1::2] = np.clip(ys, 0, height)
        out.append(clipped.tolist())
    return out


def _check_rle(rle: dict, width: int, height: int, where: str) -> dict:
    if "counts" not in rle or "size" not in rle:
        raise BadInput("bad_rle", f"{where}: RLE needs 'counts' and 'size', has {sorted(rle)}")
    size = rle["size"]
    if not (isinstance(size, list) and len(size) == 2 and list(size) == [height, width]):
        raise BadInput("bad_rle", f"{where}: RLE size {size} is not the image's [height, width] = [{height}, {width}]")
    counts = rle["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise BadInput("bad_rle", f"{where}: RLE counts must be non-negative integers")
        if sum(counts) != width * height:
            raise BadInput("bad_rle", f"{where}: RLE counts cover {sum(counts)} pixels, the image has {width * height}")
        return {"size": [height, width], "counts": list(counts)}
    if not isinstance(counts, str) or not counts.isascii():
        raise BadInput("bad_rle", f"{where}: compressed RLE counts must be an ASCII string")
    mask_api = _mask_api()
    compressed = {"size": [height, width], "counts": counts.encode("ascii")}
    try:
        decoded = _decode(mask_api, compressed)
        area = int(mask_api.area(compressed))
    except (ValueError, TypeError) as exc:
        raise BadInput("bad_rle", f"{where}: {exc}") from None
    # A string whose runs cover fewer pixels than the image decodes into whatever memory held, so
    # the decode is only trusted when encoding it again gives back the same string (COCO's encoder
    # is canonical: every string it writes round-trips exactly).
    if decoded.max(initial=0) > 1 or int(decoded.sum()) != area:
        raise BadInput("bad_rle", f"{where}: compressed RLE does not cover the {width}x{height} image")
    again = mask_api.encode(np.asfortranarray(decoded.astype(np.uint8)))["counts"]
    if again != compressed["counts"]:
        raise BadInput("bad_rle", f"{where}: compressed RLE does not cover the {width}x{height} image exactly "
                                  "(or is not in COCO's canonical form)")
    return {"size": [height, width], "counts": counts}


def decode_segmentation(seg: Any, width: int, height: int, where: str = "") -> np.ndarray:
    """A checked segmentation as an H x W bool mask, decoded by pycocotools."""
    seg = check_segmentation(seg, width, height, where)
    mask_api = _mask_api()
    if isinstance(seg, list):
        rle = mask_api.merge(mask_api.frPyObjects(seg, height, width))
    elif isinstance(seg["counts"], list):
        rle = mask_api.frPyObjects(seg, height, width)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return _decode(mask_api, rle).astype(bool)
