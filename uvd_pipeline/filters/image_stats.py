"""`image_stats`: cheap image statistics for dropping tiny, stretched, blank and blurred images.

Scores (all floats):

- `short_side`, `aspect_ratio`: from the ORIGINAL width and height (not the reduced decode):
  min(width, height) and max / min (1.0 for a square, always >= 1);
- `mean`, `std`: mean and standard deviation of the grey image (ITU-R 601 luma, 0..255); a
  near-blank page, a black frame or a flat placeholder has a small `std`;
- `laplacian_var`: the variance of the 4-neighbour Laplacian of the grey image, a standard
  sharpness measure (blurred images have little high-frequency energy).

`mean`, `std` and `laplacian_var` are computed on the grey image resized to a fixed
NORMALIZED_SIZE x NORMALIZED_SIZE (256 x 256, area average: PIL BOX), so
they do not depend on how far the decoder reduced the image (JPEG draft mode decodes at 1/2 to
1/8 scale) nor on the original resolution: a sharp 4000-pixel photo and its 500-pixel thumbnail
score alike. Pure numpy and Pillow (base install), so every worker computes the same bits.

Thresholds (None switches one off); a score below a `min_` or above a `max_` threshold drops the
image. The defaults drop none of scikit-image's bundled photographs nor the sample world's
pictures (tests/filters/test_image_stats.py measures them; docs/FILTERS.md lists the figures).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image as PILImage
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..stages import Filter, SignatureImage

#: side of the square grey image that `mean`, `std` and `laplacian_var` are measured on
NORMALIZED_SIZE = 256


class ImageStatsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_side: float | None = Field(default=32.0, ge=0, description="drop when the original's shorter side is below (pixels)")
    max_aspect_ratio: float | None = Field(default=5.0, ge=1, description="drop when longer / shorter side is above")
    min_std: float | None = Field(default=2.0, ge=0, description="drop near-blank images: grey std below (0..255)")
    min_sharpness: float | None = Field(
        default=1.0, ge=0, description=f"drop blurred images: Laplacian variance at {NORMALIZED_SIZE}x{NORMALIZED_SIZE} below"
    )


def normalized_grey(pixels: np.ndarray) -> np.ndarray:
    """The image as float64 grey levels (0..255) at NORMALIZED_SIZE x NORMALIZED_SIZE."""
    grey = PILImage.fromarray(np.ascontiguousarray(pixels), "RGB").convert("L")
    resized = grey.resize((NORMALIZED_SIZE, NORMALIZED_SIZE), PILImage.Resampling.BOX)
    return np.asarray(resized, dtype=np.float64)


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (kernel [[0,1,0],[1,-4,1],[0,1,0]]), borders replicated."""
    g = np.pad(grey, 1, mode="edge")
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def image_statistics(pixels: np.ndarray, width: int, height: int) -> dict[str, float]:
    """The five scores of `image_stats` for H x W x 3 uint8 `pixels` of an original width x height."""
    grey = normalized_grey(pixels)
    short, long = sorted((int(width), int(height)))
    return {
        "short_side": float(short),
        "aspect_ratio": float(long) / float(short),
        "mean": float(grey.mean()),
        "std": float(grey.std()),
        "laplacian_var": laplacian_variance(grey),
    }


class ImageStatsFilter(Filter):
    name = "image_stats"  # its drop details and score identity carry it even when built without the registry
    Params = ImageStatsParams
    version = "1"
    limits: ClassVar[dict[str, tuple[str, str]]] = {
        "min_side": ("short_side", "min"),
        "max_aspect_ratio": ("aspect_ratio", "max"),
        "min_std": ("std", "min"),
        "min_sharpness": ("laplacian_var", "min"),
    }

    def score(self, image: SignatureImage) -> dict[str, float]:
        px = image.pixels
        if not (isinstance(px, np.ndarray) and px.dtype == np.uint8 and px.ndim == 3 and px.shape[2] == 3 and min(px.shape[:2]) >= 1):
            shape = getattr(px, "shape", None)
            raise BadInput("bad_pixels", f"{image.record}: expected H x W x 3 uint8 pixels, got {shape} {getattr(px, 'dtype', type(px).__name__)}")
        if int(image.width) < 1 or int(image.height) < 1:
            raise BadInput("bad_size", f"{image.record}: original size {image.width} x {image.height} is empty")
        return image_statistics(px, image.width, image.height)
