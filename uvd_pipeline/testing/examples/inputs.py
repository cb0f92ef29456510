"""Inputs for the built-in plugins' conformance examples (`uvd plugins check`).

The files are the sample world's (samples/annotated.py, samples/world.py) at a small size, so the
suite checks each plugin on the real formats. A renderer's items are read from those files by the
built-in source that feeds it in a recipe, so it is checked on exactly the meta that source gives;
a sequencer's items are 256x256, as it receives them after the resize.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...types import Image, Item, WorkUnit


def read_items(source: Any, limit: int | None = None) -> list[Item]:
    """The items (rejects left out) a source instance reads from all its units, in order."""
    items: list[Item] = []
    for i, payload in enumerate(source.units()):
        unit = WorkUnit(f"example-{i:06d}", "example", i, payload)
        items.extend(out for out in source.read(unit) if isinstance(out, Item))
    return items[:limit]


def coco_files(tmp_dir: Path) -> dict[str, str]:
    """The sample COCO part (6 images, with its planted bad annotations) under tmp_dir/coco."""
    from ...samples.annotated import make_coco

    base = tmp_dir / "coco"
    if not base.exists():
        make_coco(tmp_dir, np.random.default_rng(0), n_images=6)
    ann = base / "annotations"
    return {
        "images": str(base / "images"),
        "instances": str(ann / "instances.json"),
        "keypoints": str(ann / "person_keypoints.json"),
        "panoptic": str(ann / "panoptic.json"),
        "masks": str(base / "panoptic"),
    }


def coco_items(tmp_dir: Path, kind: str, limit: int = 3) -> list[Item]:
    """Items as the `coco` source yields them for `kind` (boxes, keypoints or segmentation)."""
    from ...sources.coco import CocoSource

    files = coco_files(tmp_dir)
    annotations = [files["keypoints"] if kind == "keypoints" else files["instances"]]
    return read_items(CocoSource(images=files["images"], annotations=annotations, kind=kind), limit)


def panoptic_items(tmp_dir: Path, limit: int = 3) -> list[Item]:
    """Items as the `coco_panoptic` source yields them (meta["panoptic"] names each PNG)."""
    from ...sources.coco import CocoPanopticSource

    files = coco_files(tmp_dir)
    source = CocoPanopticSource(images=files["images"], panoptic=files["panoptic"], masks=files["masks"])
    return read_items(source, limit)


DENSE_MAPS = ("depth", "normals", "edges", "segmentation")


def dense_params(tmp_dir: Path, n: int = 3) -> dict[str, Any]:
    """`dense_maps` params over the sample dense part (its last image has no depth map)."""
    from ...samples.annotated import make_dense

    base = tmp_dir / "dense"
    if not base.exists():
        make_dense(tmp_dir, np.random.default_rng(0), n=n)
    return {"images": str(base / "images"), "maps": {m: str(base / m) for m in DENSE_MAPS}}


def dense_items(tmp_dir: Path) -> list[Item]:
    """Items as the `dense_maps` source yields them: meta["maps"] names all four map files."""
    from ...sources.dense_maps import DenseMapsSource

    return read_items(DenseMapsSource(**dense_params(tmp_dir)))


def with_meta(item: Item, **meta: Any) -> Item:
    """A copy of `item` whose meta has these keys replaced (a bad variant of a good item)."""
    return Item(item.record, item.image, {**item.meta, **meta}, dict(item.views))


def write_faulty_tar(path: Path) -> Path:
    """A webdataset shard holding the faults a real one can: a sample without an image, an
    undecodable image, a member path escaping the tar and a link member."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in (("0000.txt", b"a caption without its image"), ("0001.jpg", b"\xff\xd8 not a jpeg"),
                           ("../0002.jpg", b"outside")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("0003.jpg")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "/etc/hostname", 0
        tar.addfile(link)
    return path


def sequencer_items(
    n: int, views: tuple[str, ...] = (), meta: Callable[[int], dict] | None = None, seed: int = 0
) -> list[Item]:
    """n items of 256x256 pictures with these views, and meta(i) for the i-th item."""
    from ..samples import sample_items

    items = sample_items(n, seed=seed, view_names=views)
    for i, item in enumerate(items):
        item.meta = dict(meta(i)) if meta else {}
    return items


def example_clip(video: str, start: int, stride: int, length: int, views: tuple[str, ...] = ()) -> list[Item]:
    """Frames of one clip as a video source tags them, 256x256 (for the conformance suite and tests)."""
    rng = np.random.default_rng([start, stride, length])
    out = []
    for k in range(length):
        i = start + k * stride
        meta = {
            "video": video,
            "video_id": f"id-{video}",
            "frame_index": i,
            "frame": i,
            "stride": stride,
            "start": start,
            "clip_length": length,
        }
        px = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        views_ = {v: Image(f"{video}:{i}:{v}", 255 - px) for v in views}
        out.append(Item(video, Image(f"{video}:{i}", px), meta, views_))
    return out


def example_views(obj: str, start: int, n: int = 16, per_orbit: int = 24) -> list[Item]:
    """Orbit views as a mesh source tags them, 256x256 (for the conformance suite and tests)."""
    rng = np.random.default_rng(start)
    out = []
    for j in range(n):
        view = (start + j) % per_orbit
        meta = {
            "object": obj,
            "mesh_id": f"m-{obj}",
            "view": view,
            "order": j,
            "azimuth_deg": view * 360.0 / per_orbit,
            "elevation_deg": 12.5,
            "radius": 1.9,
            "views_per_orbit": per_orbit,
            "sequence_length": n,
        }
        px = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        out.append(Item(f"{obj}.glb", Image(f"{obj}:{view}", px), meta))
    return out
