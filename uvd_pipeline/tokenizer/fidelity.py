"""What a compute precision costs a tokenizer: encode the same photographs in float32 (the
reference, as the LVM tokenize scripts run it) and in another precision, and compare.

Used by `uvd tokenizer check` and bench/precision.py. Nothing here downloads anything: the
photographs are scikit-image's bundled files (read from its data folder, never fetched) when
scikit-image is installed, else what the caller gives (the CLI: the sample world's pictures).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

#: scikit-image's bundled photographs (files in skimage.data's folder; no download needed),
#: colour photographs first.
PHOTOGRAPHS = (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg",
    "hubble_deep_field.jpg", "ihc.png", "camera.png", "coins.png", "moon.png", "grass.png",
    "gravel.png", "brick.png", "motorcycle_right.png",
)


def photographs(limit: int | None = None, fallback=None) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """(where they came from, [(name, 256x256x3 uint8)]): scikit-image's bundled photographs if it
    is installed, else `fallback(n)` (the CLI passes the sample world's pictures), resized as the
    pipeline does."""
    from PIL import Image

    from ..images import to_256

    n = len(PHOTOGRAPHS) if limit is None else limit
    try:
        import skimage.data
    except ImportError:
        folder = None
    else:
        folder = os.path.dirname(skimage.data.__file__)
    found = [] if folder is None else [(name, os.path.join(folder, name)) for name in PHOTOGRAPHS]
    found = [(name, path) for name, path in found if os.path.isfile(path)]
    if found:
        out = []
        for name, path in found[:n]:
            with Image.open(path) as img:
                out.append((name.rsplit(".", 1)[0], to_256(img)))
        return "scikit-image bundled photographs", out
    if fallback is None:
        raise RuntimeError("no photographs: scikit-image is not installed (pip install scikit-image)")
    return "synthetic sample pictures (scikit-image not installed)", [
        (name, to_256(img)) for name, img in fallback(n)
    ]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 images (inf when equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


@dataclass
class PrecisionReport:
    dtype: str
    images: int
    agreement: float  # share of codes equal to float32's
    images_identical: int  # images whose 256 codes all equal float32's
    codes_used: int  # distinct codes over all images
    codebook_size: int
    psnr_db: float  # mean reconstruction PSNR of the decoded codes (vs the input)
    seconds_per_image: float  # encode only

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def encode_timed(model, pixels: np.ndarray, rounds: int = 1) -> tuple[np.ndarray, float]:
    """Codes and the median seconds per image over `rounds` encodes."""
    times, codes = [], None
    for _ in range(max(1, rounds)):
        start = time.perf_counter()
        codes = model.encode(pixels)
        times.append((time.perf_counter() - start) / len(pixels))
    return codes, float(np.median(times))


def compare_precisions(model, pixels: np.ndarray, dtypes: list[str], rounds: int = 1,
                       decode: bool = True) -> list[PrecisionReport]:
    """float32 first (the reference, IEEE: no TF32), then each of `dtypes` ("float32+tf32" is
    float32 with TF32 allowed, which only differs on CUDA); the model is left as it was."""
    reports, reference = [], None
    saved = (model.dtype, model.tf32)
    try:
        for label in ["float32", *[d for d in dtypes if d != "float32"]]:
            dtype, _, tf32 = label.partition("+")
            model.to(dtype=dtype)
            model.tf32 = tf32 == "tf32"
            codes, seconds = encode_timed(model, pixels, rounds)
            if reference is None:
                reference = codes
            equal = codes == reference
            quality = float(np.mean([psnr(x, y) for x, y in zip(pixels, model.decode(codes))])) if decode else float("nan")
            reports.append(PrecisionReport(
                dtype=label, images=len(pixels), agreement=float(equal.mean()),
                images_identical=int(equal.all(axis=1).sum()), codes_used=int(np.unique(codes).size),
                codebook_size=int(model.config.num_embeddings), psnr_db=quality, seconds_per_image=seconds,
            ))
    finally:
        model.to(dtype=saved[0])
        model.tf32 = saved[1]
    return reports
