"""Sample inputs for plugin tests: pictures, items, image files in real formats, corrupted copies.

Everything here is deterministic for a seed, so a plugin's test gets the same inputs every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ids import bytes_id
from ..samples.pictures import picture
from ..stages import SignatureImage, Source
from ..types import IMAGE_SIZE, Image, Item, WorkUnit

CORRUPTIONS = ("truncate", "garbage", "mixed", "empty")


def sample_pixels(seed: int = 0, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A photo-like H x W x 3 uint8 picture (size is (height, width))."""
    height, width = size
    return np.array(picture(np.random.default_rng(seed), width, height), dtype=np.uint8)  # writable, as in build.py


def sample_image(seed: int = 0, size: tuple[int, int] = (96, 128)) -> Image:
    """An Image whose id is the hash of its pixels, as a source would name a file's pixels."""
    pixels = sample_pixels(seed, size)
    return Image(bytes_id(pixels.tobytes()), pixels)


def sample_item(
    seed: int = 0,
    size: tuple[int, int] = (96, 128),
    meta: dict[str, Any] | None = None,
    record: str | None = None,
    views: dict[str, Image] | None = None,
) -> Item:
    """An item as a source yields it (native resolution); pass `meta` for a renderer's annotation."""
    return Item(
        record=record or f"sample_{seed:04d}.png",
        image=sample_image(seed, size),
        meta=dict(meta or {}),
        views=dict(views or {}),
    )


def sample_items(n: int = 4, seed: int = 0, view_names: Sequence[str] = ("sample_view",)) -> list[Item]:
    """Items as a sequencer receives them: 256x256 images, each with 256x256 views."""
    items = []
    for i in range(n):
        s = seed * 10_000 + i
        views = {name: sample_image(s + 5_000 + 97 * j, (IMAGE_SIZE, IMAGE_SIZE)) for j, name in enumerate(view_names)}
        items.append(sample_item(s, (IMAGE_SIZE, IMAGE_SIZE), record=f"sample_{i:04d}.png", views=views))
    return items


def sample_signature_image(
    seed: int = 0, size: tuple[int, int] = (96, 128), original: tuple[int, int] | None = None, record: str | None = None
) -> SignatureImage:
    """An image as a filter receives it: pixels at a reduced `size` (height, width) of an
    `original` (height, width) image (default: twice `size`, as a JPEG draft decode at 1/2)."""
    height, width = original or (2 * size[0], 2 * size[1])
    return SignatureImage(sample_pixels(seed, size), width=width, height=height, record=record or f"sample_{seed:04d}.jpg")


def sample_units(source: Source, name: str = "conformance", limit: int | None = None) -> list[WorkUnit]:
    """The source's own work units, wrapped the way the planner does."""
    payloads = source.units()
    if limit is not None:
        payloads = payloads[:limit]
    return [WorkUnit(f"{name}-{i:06d}", name, i, p) for i, p in enumerate(payloads)]


def write_sample_images(
    folder: str | Path, n: int = 3, seed: int = 0, sizes: Sequence[tuple[int, int]] = ((96, 128), (120, 80)), fmt: str = "png"
) -> list[Path]:
    """Write n pictures as real image files (png or jpg) named img_0000.<fmt>, ...; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        img = picture(np.random.default_rng(seed * 10_000 + i), w, h)
        path = folder / f"img_{i:04d}.{fmt}"
        img.save(path, **({"quality": 90} if fmt in ("jpg", "jpeg") else {}))
        paths.append(path)
    return paths


def corrupt_files(folder: str | Path, mode: str, seed: int = 0) -> list[Path]:
    """Damage the files under `folder` in place, the ways real inputs break.

    truncate: every file cut to half its length; garbage: every file replaced by random bytes of
    the same length; mixed: garbage in the 2nd, 4th, ... file (sorted order; an index file that
    sorts first stays intact), the rest intact; empty:
    every file emptied. Returns the files it changed.
    """
    if mode not in CORRUPTIONS:
        raise ValueError(f"corruption mode {mode!r}; modes: {', '.join(CORRUPTIONS)}")
    rng = np.random.default_rng(seed)
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    changed = []
    for i, path in enumerate(files):
        data = path.read_bytes()
        if mode == "truncate":
            new = data[: len(data) // 2]
        elif mode == "empty":
            new = b""
        elif mode == "garbage" or i % 2 == 1:
            new = rng.integers(0, 256, max(64, len(data)), dtype=np.uint8).tobytes()
        else:
            continue
        path.write_bytes(new)
        changed.append(path)
    return changed
