"""Crop-tolerant parts of an image's signature: perceptual hashes of shifted windows, and a tint.

A global perceptual hash moves with the frame: a copy cropped by a few per cent, or with a caption
band over one edge, lands 8-20 bits away from its original. So an image also gets the hashes of
WINDOWS of its grey square (each 90 % of the side, at offsets 0, 5 and 10 % in x and y). A crop of
up to 10 % is close to one of its original's windows, and a caption band over an edge leaves some
window pair of the two images alike. Two images are near-duplicates when ANY hash of one (full or
window) is within the threshold of ANY hash of the other (docs/CURATION.md).

Ten hashes per image make chance matches between unrelated images more likely, mostly between
images of one simple layout (a sky over a horizon) in other colours, which a grey hash cannot tell
apart. The tint settles those: the mean chromaticity (r, g) / (r + g + b) of the image's lit pixels,
which brightness, re-encoding, resizing, blur and small crops hardly move. A candidate pair must
also have tints within TINT_TOLERANCE on both channels (bench/dedup_quality.py measures the
effect).

Every hash here is imagehash's pHash rule (grey, LANCZOS to 32 x 32, DCT-II of rows and columns,
the 8 x 8 lowest frequencies against their median); the first is bit for bit `imagehash.phash` of
the grey square (tests/curation/test_views.py), the others apply the same rule to a window.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from scipy.fft import dct

WINDOW = 0.9  # side of a window, as a share of the grey square's side
OFFSETS = (0.0, 0.05, 0.1)  # window offsets in x and y, as shares of the side
WINDOWS = len(OFFSETS) ** 2  # window hashes per image (the full hash is stored apart)
TINT_TOLERANCE = 8  # largest difference of either quantized chroma channel (of 255): ~0.031
NEUTRAL_TINT = (85 << 8) | 85  # (1/3, 1/3): grey images, and images without lit pixels
LIT = 60  # r + g + b below this: too dark for a stable chromaticity


def window_boxes(side: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each window of a side x side square, row by row."""
    size = round(WINDOW * side)
    starts = [min(round(o * side), side - size) for o in OFFSETS]
    return [(x, y, x + size, y + size) for y in starts for x in starts]


def phash_bits(squares: np.ndarray) -> np.ndarray:
    """imagehash's pHash of each 32 x 32 grey square (n, 32, 32) as n unsigned 64-bit ints."""
    coeffs = dct(dct(squares.astype(np.float64), axis=1), axis=2)[:, :8, :8].reshape(len(squares), 64)
    bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8")[:, 0].astype(np.uint64)


def view_hashes(grey: PILImage.Image) -> tuple[int, list[int]]:
    """(full hash, window hashes) of a grey square (signatures.grey_square)."""
    crops = [grey] + [grey.crop(box) for box in window_boxes(grey.width)]
    squares = np.stack([np.asarray(c.resize((32, 32), PILImage.Resampling.LANCZOS)) for c in crops])
    hashes = phash_bits(squares).tolist()
    return hashes[0], hashes[1:]


def tint(pixels: np.ndarray) -> int:
    """The quantized mean chromaticity of an RGB array's lit pixels: (r << 8) | g, each of 255."""
    rgb = pixels.reshape(-1, pixels.shape[-1])[:, :3].astype(np.float64) if pixels.ndim == 3 else None
    if rgb is None:
        return NEUTRAL_TINT
    total = rgb.sum(axis=1)
    lit = total >= LIT
    if not lit.any():
        return NEUTRAL_TINT
    chroma = (rgb[lit] / total[lit, None]).mean(axis=0)
    r, g = (int(round(float(c) * 255)) for c in chroma[:2])
    return (r << 8) | g


def tints_close(a: np.ndarray, b: np.ndarray, tolerance: int = TINT_TOLERANCE) -> np.ndarray:
    """Elementwise: do two arrays of tints differ by at most `tolerance` on both channels?"""
    a, b = a.astype(np.int32), b.astype(np.int32)
    return (np.abs((a >> 8) - (b >> 8)) <= tolerance) & (np.abs((a & 255) - (b & 255)) <= tolerance)
