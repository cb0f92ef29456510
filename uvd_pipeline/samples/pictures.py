"""Synthetic but photo-like pictures: gradients, shapes and texture, deterministic per seed."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def picture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A sky-over-ground scene with a few objects; varied enough that tokens differ."""
    y = np.linspace(0, 1, height)[:, None, None]
    top = rng.integers(60, 255, 3)
    bottom = rng.integers(0, 200, 3)
    sky = (top * (1 - y) + bottom * y) * np.ones((1, width, 1))
    noise = rng.normal(0, 6, (height, width, 3))
    img = Image.fromarray(np.clip(sky + noise, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    horizon = int(height * rng.uniform(0.45, 0.75))
    draw.rectangle([0, horizon, width, height], fill=tuple(int(c) for c in rng.integers(20, 160, 3)))
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.25) * min(width, height)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=colour)
    return img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 1.2))))


def rgb8(array: np.ndarray) -> np.ndarray:
    """An image array as H x W x 3 uint8 (scikit-image's bundled photos come as bool, grey or RGBA)."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3].astype(np.uint8))
