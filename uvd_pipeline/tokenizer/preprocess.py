"""LVM's image preprocessing: PIL RGB, optional centre crop, ``resize((256, 256))``.

The LVM tokenization scripts do ``Image.open(p).convert('RGB').resize((256, 256))`` and
then ``np.array(img) / 255.0``; the division happens in :meth:`VQGAN.encode`, so this
function returns the uint8 HWC array.  The resize uses PIL's *default* filter (bicubic for
RGB images in Pillow >= 7), exactly as LVM does: no ``resample`` argument is passed.

Colour conversion: one rule, ``img.convert('RGB')``, exactly as the LVM code, for every mode
and on both paths (this function and the pipeline's decoders, which call :func:`to_rgb`):
  * RGB, RGBA, LA, L, 1, P with or without transparency, PA, CMYK, YCbCr, LAB, HSV, RGBX ...:
    **alpha is dropped, not composited** (transparent pixels keep whatever colour they store),
    CMYK uses PIL's plain formula (no ICC profile);
  * 16-bit PNGs: PIL already decodes 16-bit *colour* PNGs to 8-bit RGB (the high byte of each
    sample); 16/32-bit integer *greyscale* ("I;16", "I;16B", "I;16L", "I") is **clipped at 255**
    by ``convert('RGB')`` (values 0..255 kept, anything brighter white), so a full-range 16-bit
    grey photo comes out mostly white, as it does in the LVM code;
  * 32-bit float greyscale ("F") is truncated and clipped to [0, 255].
The rule follows the installed Pillow (``dataset.json`` records its version).

EXIF orientation: by default (``exif="ignore"``) the stored pixel layout is kept, as LVM's
``Image.open(path).convert('RGB')`` keeps it; ``exif="apply"`` first rotates/flips the image as
its EXIF orientation tag says. The pipeline decodes with the recipe's ``preprocess.exif`` (same
default) before calling this, so both paths give the same pixels for the same setting.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB version of ``img``: ``img.convert('RGB')``, the LVM rule (see the module docstring)."""
    if img.mode == "RGB":
        return img
    with warnings.catch_warnings():
        # "Palette images with Transparency expressed in bytes should be converted to RGBA":
        # we drop alpha on purpose (see module docstring), so the advice does not apply.
        warnings.filterwarnings("ignore", message="Palette images with Transparency", category=UserWarning)
        return img.convert("RGB")


def center_crop_square(img: Image.Image) -> Image.Image:
    """Largest centred square; an odd surplus pixel is cut from the right/bottom."""
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    if side == width and side == height:
        return img
    return img.crop((left, top, left + side, top + side))


def preprocess(img: Image.Image, center_crop: bool = False, size: int = 256, exif: str = "ignore") -> np.ndarray:
    """PIL image -> uint8 array [size, size, 3], LVM's protocol (see module docstring).

    Order: (with ``exif="apply"`` only) EXIF orientation, then convert to RGB, then (optionally)
    centre-crop to a square, then ``img.resize((size, size))`` with PIL's default filter.
    """
    if not isinstance(img, Image.Image):
        raise ValueError(f"preprocess expects a PIL.Image.Image, got {type(img).__name__}")
    if exif not in ("ignore", "apply"):
        raise ValueError(f"preprocess: exif must be 'ignore' or 'apply', got {exif!r}")
    if img.width < 1 or img.height < 1:
        raise ValueError(f"preprocess: empty image of size {img.size}")
    if exif == "apply":
        try:
            img = ImageOps.exif_transpose(img)
        except Exception as exc:  # a broken EXIF block must not lose the image (as the pipeline)
            warnings.warn(f"EXIF orientation ignored ({exc})", stacklevel=2)
    rgb = to_rgb(img)
    if center_crop:
        rgb = center_crop_square(rgb)
    resized = rgb.resize((size, size))
    out = np.asarray(resized, dtype=np.uint8)
    if out.shape != (size, size, 3):  # defensive: PIL contract
        raise ValueError(f"preprocess produced shape {out.shape}, expected {(size, size, 3)}")
    return np.array(out, copy=True)
