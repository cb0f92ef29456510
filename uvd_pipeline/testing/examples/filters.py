"""Conformance examples of the built-in filters: images as the curation pass hands them over
(pixels at a reduced size, the original size beside them) and drop_images that the example's
thresholds must drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from PIL import Image as PILImage

from ...stages import SignatureImage
from ..report import Skip
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


def colour_wheel(size: int = 128) -> np.ndarray:
    """A generated hue wheel (hue = angle, saturation = radius, black outside the disc), RGB."""
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    radius = np.hypot(x, y)
    hue = np.arctan2(y, x) / (2 * np.pi) % 1.0
    hsv = np.stack([hue * 255, np.clip(radius, 0, 1) * 255, np.where(radius <= 1, 255, 0)], axis=2).astype(np.uint8)
    return np.asarray(PILImage.fromarray(hsv, "HSV").convert("RGB"))


def nsfw(tmp_dir: Path) -> dict[str, Any]:
    """NudeNet's bundled model on sample pictures; drop_images: a generated colour wheel, which the
    model takes for exposed buttocks (0.62 > the default 0.5; scikit-image's colorwheel scores 0.83
    in NudeNet's own detect()). Without nudenet the example is skipped with the reason."""
    from ...filters.nsfw import NSFW_MISSING, nudenet_available

    if not nudenet_available():
        raise Skip(NSFW_MISSING)
    wheel = SignatureImage(colour_wheel(128), 128, 128, "colour_wheel.png")
    return {"params": {"device": "cpu"}, "images": photo_like_images(), "drop_images": [wheel]}


def onnx_score(tmp_dir: Path) -> dict[str, Any]:
    """A tiny scoring head written with onnx's helpers (logits [m, -m], m the mean normalised
    brightness), read through a softmax as "brightness" in (0, 1); drop_images: a dark frame.
    Without onnxruntime the example is skipped with the reason."""
    from ...estimators.onnx_session import onnxruntime_available
    from ...filters.onnx_score import ONNX_SCORE_MISSING
    from ...samples.onnx_models import write_brightness_model

    if not onnxruntime_available():
        raise Skip(ONNX_SCORE_MISSING)
    model = write_brightness_model(tmp_dir / "brightness.onnx")
    params = {
        "model": str(model), "input_size": 32, "activation": "softmax", "score_name": "brightness",
        "min_score": 0.2, "device": "cpu",
    }
    dark = SignatureImage(np.full((40, 60, 3), 5, np.uint8), 600, 400, "dark_frame.jpg")
    return {"params": params, "images": photo_like_images(), "drop_images": [dark]}


EXAMPLES = {
    "image_stats": image_stats,
    "nsfw": nsfw,
    "onnx_score": onnx_score,
}
