"""Fixtures for the tokenizer tests: the tiny random VQGAN, synthetic photos, the reference tool."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uvd_pipeline.tokenizer import VQGAN

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reference_codes.json"


def load_reference_tool():
    """tools/make_reference_codes.py as a module (importing it needs no open-muse)."""
    spec = importlib.util.spec_from_file_location("make_reference_codes", REPO / "tools" / "make_reference_codes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_photos(n: int, seed: int = 0, size: int = 256) -> np.ndarray:
    """Natural-looking uint8 images: smooth random colour fields plus a few discs and edges."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), dtype=np.float64)
        for _ in range(4):
            cy, cx, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(10, 60))]
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            field[mask] = rng.integers(0, 256, 3)
        field += rng.normal(0, 4, field.shape)  # sensor-like noise
        out[i] = np.clip(field, 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="session")
def reference_tool():
    return load_reference_tool()


@pytest.fixture(scope="session")
def reference_fixture() -> dict:
    with open(FIXTURE, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def tiny() -> VQGAN:
    return VQGAN.random("tiny", seed=0, device="cpu", batch_size=4)


@pytest.fixture(scope="session")
def photos() -> np.ndarray:
    return synthetic_photos(6, seed=0)
