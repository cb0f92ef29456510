"""A small world with planted duplicates, in real files: two photo folders that share copies (a
re-encode, a byte-identical file, a half-size resize), an evaluation folder holding a resized copy
of a training photo, and a blank image for the filters."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage


def photos() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina"):
        arr = getattr(data, name)()
        out.append(np.asarray(PILImage.fromarray(arr).convert("RGB").resize((320, 240))))
    return out


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_dup_world(root: Path) -> dict[str, Any]:
    """Files under root; returns the expected outcome by record."""
    p = photos()
    web, more, evals = root / "web", root / "more", root / "eval"
    for d in (web, more, evals):
        d.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        (web / f"p{i}.jpg").write_bytes(jpeg(p[i]))
    (web / "p1_reencoded.jpg").write_bytes(jpeg(p[1], quality=40))
    (web / "p2_copy.jpg").write_bytes((web / "p2.jpg").read_bytes())
    (web / "blank.jpg").write_bytes(jpeg(np.full((240, 320, 3), 128, np.uint8)))
    half = np.asarray(PILImage.fromarray(p[3]).resize((160, 120)))
    (more / "p3_small.jpg").write_bytes(jpeg(half))
    (more / "p6.jpg").write_bytes(jpeg(p[6]))
    (evals / "val_0001.jpg").write_bytes(jpeg(np.asarray(PILImage.fromarray(p[4]).resize((200, 150)))))
    return {
        "pairs": {frozenset({"p1.jpg", "p1_reencoded.jpg"}): "near_duplicate", frozenset({"p2.jpg", "p2_copy.jpg"}): "duplicate"},
        "dropped": {"p3_small.jpg": "near_duplicate", "p4.jpg": "eval_contamination", "blank.jpg": "filtered"},
    }


def dup_recipe(root: Path, curation: dict[str, Any] | None = None) -> dict[str, Any]:
    recipe: dict[str, Any] = {
        "name": "dups",
        "seed": 0,
        "sources": [
            {"name": "web", "plugin": "image_folder", "params": {"path": str(root / "web"), "unit_size": 4},
             "category": "unlabelled_images"},
            {"name": "more", "plugin": "image_folder", "params": {"path": str(root / "more")},
             "category": "unlabelled_images"},
        ],
    }
    if curation is not None:
        recipe["curation"] = curation
    return recipe


FULL_CURATION = {
    "dedup": True,
    "eval_sets": [{"name": "val", "plugin": "image_folder", "params": {"path": "EVAL"}}],
    "filters": [{"plugin": "image_stats"}],
}


def full_curation(root: Path) -> dict[str, Any]:
    cur = {**FULL_CURATION, "eval_sets": [{**FULL_CURATION["eval_sets"][0], "params": {"path": str(root / "eval")}}]}
    return cur


def distinct_recipe(root: Path) -> dict[str, Any]:
    """A folder of four distinct photographs (nothing for curation to drop) and a recipe reading it."""
    folder = root / "distinct"
    folder.mkdir()
    for i, px in enumerate(photos()[:4]):
        (folder / f"d{i}.jpg").write_bytes(jpeg(px))
    return {"name": "distinct", "seed": 0, "sources": [
        {"name": "web", "plugin": "image_folder", "params": {"path": str(folder), "unit_size": 2},
         "category": "unlabelled_images"}]}
