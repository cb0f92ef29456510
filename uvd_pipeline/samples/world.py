"""The sample world: every part writes its files under one root, in the real formats."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .annotated import make_coco, make_dense, make_imagenet, make_paired
from .captures import make_multiview, make_posetrack
from .duplicates import make_duplicates
from .meshes import make_meshes, make_objaverse_cache
from .pictures import picture
from .videos import make_annotated_videos, make_frame_folders, make_videos

SIZES = [(320, 240), (640, 480), (200, 300), (512, 512), (1024, 256), (97, 131), (300, 300), (480, 640)]


def make_images(root: Path, rng: np.random.Generator, n: int = 48) -> dict[str, int]:
    """`images/`: a nested folder of JPEG/PNG/WebP in varied sizes and modes, plus two bad files."""
    base = root / "images"
    kinds = ["jpg_rgb", "png_rgba", "png_palette", "jpg_gray", "webp", "png_16bit"]
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        img = picture(rng, w, h)
        kind = kinds[i % len(kinds)]
        folder = base / f"set{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"img_{i:04d}"
        if kind == "jpg_rgb":
            img.save(f"{stem}.jpg", quality=90)
        elif kind == "png_rgba":
            img.convert("RGBA").save(f"{stem}.png")
        elif kind == "png_palette":
            img.convert("P", palette=1, colors=64).save(f"{stem}.png")
        elif kind == "jpg_gray":
            img.convert("L").save(f"{stem}.jpeg", quality=85)
        elif kind == "webp":
            img.save(f"{stem}.webp", quality=80)
        else:
            gray16 = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
            from PIL import Image

            Image.fromarray(gray16).save(f"{stem}.png")
    # Bad input is part of real data: it must end in the rejects table, not crash the run.
    good = io.BytesIO()
    picture(rng, 64, 64).save(good, format="JPEG")
    (base / "set0" / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    (base / "set1" / "not_an_image.png").write_bytes(b"this is a text file with an image extension\n")
    return {"images": n, "bad_images": 2}


def make_webdataset(root: Path, rng: np.random.Generator, shards: int = 2, per_shard: int = 24) -> dict[str, int]:
    """`webdataset/NNNNN.tar` as img2dataset writes them: KEY.jpg, KEY.json, KEY.txt per sample."""
    base = root / "webdataset"
    base.mkdir(parents=True, exist_ok=True)
    k = 0
    for s in range(shards):
        with tarfile.open(base / f"{s:05d}.tar", "w") as tar:
            for _ in range(per_shard):
                key = f"{s:05d}{k:04d}"
                w, h = SIZES[k % len(SIZES)]
                buf = io.BytesIO()
                picture(rng, w, h).save(buf, format="JPEG", quality=90)
                caption = f"a synthetic scene number {k}"
                meta = {"key": key, "caption": caption, "url": f"https://example.invalid/{key}.jpg",
                        "width": w, "height": h, "status": "success"}
                for ext, data in (("jpg", buf.getvalue()), ("json", json.dumps(meta).encode()), ("txt", caption.encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    info.mtime = 0
                    tar.addfile(info, io.BytesIO(data))
                k += 1
    return {"webdataset_samples": shards * per_shard}


PARTS: dict[str, Callable[[Path, np.random.Generator], dict[str, int]]] = {
    "images": make_images,
    "webdataset": make_webdataset,
    "videos": make_videos,
    "frame_folders": make_frame_folders,
    "annotated_videos": make_annotated_videos,
    "meshes": make_meshes,
    "objaverse": make_objaverse_cache,
    "imagenet": make_imagenet,
    "coco": make_coco,
    "dense_maps": make_dense,
    "paired": make_paired,
    # appended last: a part's seed is its position here, so earlier parts keep their bytes
    "multiview": make_multiview,
    "posetrack": make_posetrack,
    "duplicates": make_duplicates,  # copies of images/ and webdataset/ files: after them
}


def make_samples(root: str | Path, seed: int = 0, parts: list[str] | None = None) -> dict[str, int]:
    """Write the sample world under root; returns counts of what was written per part."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i, (name, make) in enumerate(PARTS.items()):
        if parts is None or name in parts:
            counts.update(make(root, np.random.default_rng([seed, i])))
    return counts
