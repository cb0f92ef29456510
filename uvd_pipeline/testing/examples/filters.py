"""Conformance examples of the built-in filters: images as the curation pass hands them over
(pixels at a reduced size, the original size beside them) and drop_images that the example's
thresholds must drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...stages import SignatureImage
from ..samples import sample_pixels, sample_signature_image


def photo_like_images() -> list[SignatureImage]:
    """Sample pictures: decoded at 1/2 and 1/4 of a larger original, and at their own size."""
    return [
        sample_signature_image(0, (96, 128)),
        sample_signature_image(1, (120, 80), original=(480, 320)),
        sample_signature_image(2, (200, 300), original=(200, 300)),
    ]


def image_stats(tmp_dir: Path) -> dict[str, Any]:
    """Default thresholds; drop_images: one per threshold (a thumbnail, a banner, a blank page,
    a smooth ramp with contrast but no detail, as a picture blurred to nothing)."""
    ramp = np.repeat(np.linspace(0, 255, 256)[None, :, None], 3, axis=2).repeat(256, axis=0).astype(np.uint8)
    drops = [
        SignatureImage(sample_pixels(5, (16, 20)), 20, 16, "thumbnail.jpg"),
        SignatureImage(sample_pixels(6, (40, 400)), 4000, 400, "banner.jpg"),
        SignatureImage(np.full((64, 64, 3), 250, np.uint8), 1024, 1024, "blank_page.png"),
        SignatureImage(ramp, 512, 512, "smooth_ramp.png"),
    ]
    return {"params": {}, "images": photo_like_images(), "drop_images": drops}


EXAMPLES = {
    "image_stats": image_stats,
}
