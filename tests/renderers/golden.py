"""Pixel-exact golden images. Refresh them on purpose with:

    UVD_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/renderers tests/estimators

then look at the changed PNGs (git diff shows them) before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UVD_UPDATE_GOLDEN") == "1"


def check_golden(name: str, pixels: np.ndarray) -> None:
    path = GOLDEN_DIR / f"{name}.png"
    pixels = np.asarray(pixels)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, optimize=True)
    if not path.exists():
        pytest.fail(f"golden image {path} is missing; create it with UVD_UPDATE_GOLDEN=1")
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert expected.shape == pixels.shape, f"{path}: shape {pixels.shape}, golden {expected.shape}"
    differ = (expected != pixels).any(axis=2)
    if differ.any():
        ys, xs = np.nonzero(differ)
        pytest.fail(f"{path}: {int(differ.sum())} pixels differ (first at x={xs[0]}, y={ys[0]}: "
                    f"{pixels[ys[0], xs[0]].tolist()} vs golden {expected[ys[0], xs[0]].tolist()})")
