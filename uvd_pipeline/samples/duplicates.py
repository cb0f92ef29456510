"""`duplicates/`: copies of other parts' pictures, the way the web copies them, for curation.

`duplicates/copies/` holds re-encoded, resized, brightened and byte-identical copies of the first
JPEGs of `images/`; `duplicates/eval/` holds resized copies of the first samples of
`webdataset/00000.tar`, to serve as an evaluation set that the web crawl contaminates. Written
after those parts (it reads their files); a world without them gets no duplicates.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_duplicates(root: Path, rng: np.random.Generator) -> dict[str, int]:
    copies, evals = root / "duplicates" / "copies", root / "duplicates" / "eval"
    originals = sorted((root / "images").glob("set*/*.jpg"))[:4]
    shard = root / "webdataset" / "00000.tar"
    if not originals or not shard.exists():
        return {"duplicates": 0}
    copies.mkdir(parents=True, exist_ok=True)
    evals.mkdir(parents=True, exist_ok=True)
    made = [
        ("reencoded_q40", lambda im: _jpeg(im, 40)),
        ("half_size", lambda im: _jpeg(im.resize((max(8, im.width // 2), max(8, im.height // 2))))),
        ("brighter", lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(1.1))),
    ]
    for path, (kind, make) in zip(originals, made):
        with Image.open(path) as im:
            (copies / f"{path.stem}_{kind}.jpg").write_bytes(make(im))
    (copies / f"{originals[-1].stem}_same_bytes.jpg").write_bytes(originals[-1].read_bytes())
    with tarfile.open(shard) as tar:
        members = sorted((m for m in tar.getmembers() if m.name.endswith(".jpg")), key=lambda m: m.name)[:2]
        for m in members:
            with Image.open(io.BytesIO(tar.extractfile(m).read())) as im:
                w, h = im.size
                (evals / f"val_{m.name}").write_bytes(_jpeg(im.resize((int(w * 0.75), int(h * 0.75)))))
    return {"duplicates": len(originals), "duplicates_eval": len(members)}
