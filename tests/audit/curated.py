"""Curated outputs for the audit tests, built once per session with the local engine: the planted
duplicates of tests/curation/worlds.py, and a two-source world whose held-out source (all test)
holds a resized copy and a byte copy of training photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from tests.curation.worlds import dup_recipe, full_curation, jpeg, make_dup_world, photos
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.recipe import parse_recipe

_BUILT: dict[str, tuple[Path, Path]] = {}


def _once(tmp_path_factory, key: str, build) -> tuple[Path, Path]:
    if key not in _BUILT:
        root = tmp_path_factory.mktemp(key)
        _BUILT[key] = (root, build(root))
    return _BUILT[key]


def curated_output(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, output) of the dup world with dedup, an evaluation set and image_stats."""

    def build(root: Path) -> Path:
        make_dup_world(root)
        out = root / "out"
        run_recipe(parse_recipe(dup_recipe(root, full_curation(root))), str(out), engine="local", quiet=True)
        return out

    return _once(tmp_path_factory, "curated", build)


def make_split_world(root: Path) -> dict:
    """`train/`: photos 0..5; `held/`: a half-size copy of photo 3, a byte copy of photo 2's file
    and photo 6 (no twin). Returns the expected leaks."""
    p = photos()
    train, held = root / "train", root / "held"
    train.mkdir(parents=True, exist_ok=True)
    held.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        (train / f"p{i}.jpg").write_bytes(jpeg(p[i]))
    (held / "p3_small.jpg").write_bytes(jpeg(np.asarray(PILImage.fromarray(p[3]).resize((160, 120)))))
    (held / "p2_copy.jpg").write_bytes((train / "p2.jpg").read_bytes())
    (held / "p6.jpg").write_bytes(jpeg(p[6]))
    return {"p3_small.jpg": ("p3.jpg", False), "p2_copy.jpg": ("p2.jpg", True)}


def split_recipe(root: Path, curation: dict | None) -> dict:
    recipe = {
        "name": "split", "seed": 0,
        "sources": [
            {"name": "train", "plugin": "image_folder", "params": {"path": str(root / "train"), "unit_size": 4},
             "category": "unlabelled_images"},
            {"name": "held", "plugin": "image_folder", "params": {"path": str(root / "held"), "unit_size": 1},
             "category": "unlabelled_images", "test_fraction": 1.0},
        ],
    }
    if curation is not None:
        recipe["curation"] = curation
    return recipe


def split_output(tmp_path_factory, curation: dict | None = None, key: str = "split") -> tuple[Path, Path]:
    """A built split world; by default curation only scores (image_stats), so nothing near is dropped
    and the leaks stay for the audit to find."""
    cur = {"filters": [{"plugin": "image_stats"}]} if curation is None else curation

    def build(root: Path) -> Path:
        make_split_world(root)
        out = root / "out"
        run_recipe(parse_recipe(split_recipe(root, cur or None)), str(out), engine="local", quiet=True)
        return out

    return _once(tmp_path_factory, key, build)
