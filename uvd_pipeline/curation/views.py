"""Crop-tolerant parts of an image's signature: perceptual hashes of shifted windows, and a tint.

A global perceptual hash moves with the frame: a copy cropped by a few per cent, or with a caption
band over one edge, lands 8-20 bits away from its original. So an image also gets the hashes of
WINDOWS of its grey square (each 90 % of the side, at offsets 0, 5 and 10 % in x and y). A crop of
up to 10 % is close to one of its original's windows, and a caption band over an edge leaves some
window pair of the two images alike. Two images are near-duplicates when ANY hash of one (full or
window) is within the threshold of ANY hash of the other (docs/CURATION.md).

Ten hashes per image make chance matches between unrelated images more likely, mostly between
images of one simple layout (a sky over a horizon) in other colours, which a grey hash cannot tell
apart. The tint settles those: the mean chromaticity (r, g) / (r + g + b) of the image's lit cells,
which brightness, re-encoding, resizing, blur and small crops hardly move. A candidate pair must
also have tints within TINT_TOLERANCE on both channels (bench/dedup_quality.py measures the
effect).

Every hash here is imagehash's pHash rule (grey, LANCZOS to 32 x 32, DCT-II of rows and columns,
the 8 x 8 lowest frequencies against their median); the full one is `imagehash.phash` of the grey
square bit for bit, the windows apply the same rule in floating point as matrix products, which
agrees with imagehash on a cropped window to within a few bits (tests/curation/test_views.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image as PILImage

WINDOW = 0.9  # side of a window, as a share of the grey square's side
OFFSETS = (0.0, 0.05, 0.1)  # window offsets in x and y, as shares of the side
WINDOWS = len(OFFSETS) ** 2  # window hashes per image (the full hash is stored apart)
TINT_TOLERANCE = 8  # largest difference of either quantized chroma channel (of 255): ~0.031
NEUTRAL_TINT = (85 << 8) | 85  # (1/3, 1/3): grey images, and images without lit pixels
LIT = 60  # r + g + b below this: too dark for a stable chromaticity
TINT_CELLS = 32  # the tint averages the chromaticity of this many x this many cells


def window_boxes(side: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each window of a side x side square, row by row."""
    size = round(WINDOW * side)
    starts = [min(round(o * side), side - size) for o in OFFSETS]
    return [(x, y, x + size, y + size) for y in starts for x in starts]


@lru_cache(maxsize=8)
def _low_frequencies(side: int) -> np.ndarray:
    """(8, side): a grey square's side resampled to 32 by PIL's LANCZOS filter (computed in floating
    point), then the 8 lowest DCT-II coefficients. M @ X @ M.T is the pHash's 8 x 8 of X."""
    impulses = PILImage.fromarray(np.eye(side, dtype=np.float32), mode="F").resize((32, side), PILImage.Resampling.LANCZOS)
    resample = np.asarray(impulses, dtype=np.float64).T  # (32, side): row j = weights of output pixel j
    n = np.arange(32)
    dct_rows = 2 * np.cos(np.pi * np.arange(8)[:, None] * (2 * n[None, :] + 1) / 64)  # scipy's unnormalized DCT-II
    return dct_rows @ resample


def bits_of(coeffs: np.ndarray) -> np.ndarray:
    """(n, 8, 8) low frequencies -> n pHashes (each coefficient against its 8 x 8's median) as uint64."""
    flat = coeffs.reshape(len(coeffs), 64)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8")[:, 0].astype(np.uint64)


def window_hashes(grey: np.ndarray) -> np.ndarray:
    """The pHash of each window of a grey square (side x side), as uint64, in window_boxes order.
    The same rule as imagehash.phash applied to the window, with the resize done in floating point
    (PIL rounds to 8 bits between its two passes), as two small matrix products per window."""
    side = grey.shape[0]
    boxes = window_boxes(side)
    size = boxes[0][2] - boxes[0][0]
    m = _low_frequencies(size)
    g = grey.astype(np.float64)
    rows = {top: m @ g[top : top + size] for top in sorted({b[1] for b in boxes})}  # (8, side) each
    coeffs = np.stack([rows[top][:, left : left + size] @ m.T for left, top, _, _ in boxes])
    return bits_of(coeffs)


def full_hash(grey: PILImage.Image) -> int:
    """imagehash.phash of a grey image as an unsigned int (bit 63 = the first of its row-major 8x8)."""
    import imagehash

    return int(np.packbits(imagehash.phash(grey).hash.reshape(-1).astype(np.uint8)).view(">u8")[0])


def view_hashes(grey: PILImage.Image) -> tuple[int, list[int]]:
    """(full hash: imagehash.phash bit for bit, window hashes) of a grey square (signatures.grey_square)."""
    return full_hash(grey), window_hashes(np.asarray(grey)).tolist()


def tint(pixels: np.ndarray) -> int:
    """The quantized mean chromaticity of an RGB array's lit cells, (r << 8) | g, each of 255: the
    image is area-averaged to TINT_CELLS x TINT_CELLS cells first."""
    if pixels.ndim != 3 or pixels.shape[-1] < 3:
        return NEUTRAL_TINT
    cells = PILImage.fromarray(np.ascontiguousarray(pixels[..., :3])).resize((TINT_CELLS, TINT_CELLS), PILImage.Resampling.BOX)
    rgb = np.asarray(cells).reshape(-1, 3)
    total = rgb.sum(axis=1, dtype=np.int32)
    lit = total >= LIT
    if not lit.any():
        return NEUTRAL_TINT
    chroma = (rgb[lit, :2] / total[lit, None].astype(np.float32)).mean(axis=0, dtype=np.float64)
    r, g = (int(round(float(c) * 255)) for c in chroma[:2])
    return (r << 8) | g


def tints_close(a: np.ndarray, b: np.ndarray, tolerance: int = TINT_TOLERANCE) -> np.ndarray:
    """Elementwise: do two arrays of tints differ by at most `tolerance` on both channels?"""
    a, b = a.astype(np.int32), b.astype(np.int32)
    return (np.abs((a >> 8) - (b >> 8)) <= tolerance) & (np.abs((a & 255) - (b & 255)) <= tolerance)
