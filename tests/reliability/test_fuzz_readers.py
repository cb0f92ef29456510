"""Property-based fuzzing of the readers of every source format: no input makes a worker raise past
the reject path. For mutated bytes of JPEG/PNG/WebP, webdataset tars, COCO JSON (bytes and
structure), CSV/JSONL pair lists and .npy/16-bit PNG depth maps (this file) and of video files, AVA
CSVs, GLB meshes and JHMDB .mat files (test_fuzz_media.py): planning the source's units,
`source.read(unit)` (every outcome an Item or a Reject) and `UnitBuilder.build(unit)` (a UnitBuild
whose records all end used or rejected) never raise.

Example counts are modest for CI; `UVD_FUZZ_PROFILE=deep` runs many more (randomised, with
Hypothesis's example database):
    UVD_FUZZ_PROFILE=deep pytest tests/reliability/test_fuzz_readers.py tests/reliability/test_fuzz_media.py
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from .fuzzing import FUZZ, JSON_VALUES, SEEDS, Harness, fuzz_root, harness, mutated

EXTENSIONS = {"jpeg": "jpg", "png": "png", "png16": "png", "webp": "webp"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    yield from fuzz_root(tmp_path_factory)


# -- images --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "png", "png16", "webp"])
def test_image_folder_reader(root, fmt):
    folder = root / f"images_{fmt}"
    folder.mkdir(exist_ok=True)
    h = harness(f"images_{fmt}", {"name": "images", "plugin": "image_folder", "params": {"path": str(folder)},
                                  "category": "unlabelled_images"})

    @FUZZ
    @given(data=mutated(SEEDS[fmt]))
    def run(data):
        (folder / f"x.{EXTENSIONS[fmt]}").write_bytes(data)
        assert h.check() == 1

    run()


# -- webdataset tars -----------------------------------------------------------------------------------


def _tar_seed() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for key in ("a", "b"):
            for ext, data in (("jpg", SEEDS["jpeg"]), ("json", b'{"caption": "x", "width": 40}'), ("txt", b"x")):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_webdataset_reader(root):
    folder = root / "wds"
    folder.mkdir(exist_ok=True)
    h = harness("wds", {"name": "wds", "plugin": "webdataset", "params": {"path": str(folder)}, "category": "unlabelled_images"})
    seed = _tar_seed()

    @FUZZ
    @given(data=mutated(seed))
    def run(data):
        (folder / "00000.tar").write_bytes(data)
        h.check()

    run()


def test_webdataset_deeply_nested_json_sidecar(root):
    """A sidecar .json nested deeper than Python's recursion limit (json.loads raises RecursionError)."""
    folder = root / "wds_nested"
    folder.mkdir(exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("a.jpg", SEEDS["jpeg"]), ("a.json", b"[" * 100_000)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (folder / "00000.tar").write_bytes(buf.getvalue())
    h = harness("wds_nested", {"name": "wds", "plugin": "webdataset", "params": {"path": str(folder)},
                               "category": "unlabelled_images"})
    assert h.check() == 1


# -- COCO ----------------------------------------------------------------------------------------------


def _coco_seed() -> dict:
    kp = [0.0] * 51
    kp[0:3] = [20.0, 10.0, 2]
    return {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 40, "height": 30},
                   {"id": 2, "file_name": "2.jpg", "width": 40, "height": 30}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]], "keypoints": kp, "num_keypoints": 1},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 8, 8], "iscrowd": 1,
             "segmentation": {"size": [30, 40], "counts": [100, 20, 1080]}},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}],
    }


def _coco_harness(root: Path, name: str, kind: str = "all") -> tuple[Harness, Path]:
    base = root / name
    if not base.exists():
        (base / "images").mkdir(parents=True)
        for i in (1, 2):
            (base / "images" / f"{i}.jpg").write_bytes(SEEDS["jpeg"])
    h = harness(name, {"name": "coco", "plugin": "coco", "category": "annotated_images",
                       "params": {"images": str(base / "images"), "annotations": [str(base / "a.json")], "kind": kind},
                       "renderers": [{"plugin": "coco_boxes"}, {"plugin": "openpose"}, {"plugin": "coco_segmentation"}],
                       "sequencer": {"plugin": "ktuple", "params": {"modalities": ["image", "coco_boxes"], "shots": 1}}})
    return h, base / "a.json"


@pytest.mark.parametrize("kind", ["all", "keypoints"])
def test_coco_reader_structured(root, kind):
    """Any field of any entry replaced by any JSON value (huge integers, NaN, nesting) or removed."""
    h, path = _coco_harness(root, f"coco_s_{kind}", kind)
    seed = _coco_seed()

    @FUZZ
    @given(edits=st.lists(st.tuples(st.sampled_from(["images", "annotations", "categories"]), st.integers(0, 3),
                                    st.sampled_from(["id", "image_id", "category_id", "bbox", "segmentation", "keypoints",
                                                     "file_name", "width", "height", "iscrowd", "area", "name", "*"]),
                                    st.booleans(), JSON_VALUES), min_size=1, max_size=4))
    @example(edits=[("images", 0, "file_name", False, ["a", "list"])])
    @example(edits=[("annotations", 0, "bbox", False, [10**400, 1, 1, 1])])
    @example(edits=[("annotations", 0, "segmentation", False, [[1, 1, 10**400, 1, 5, 5]])])
    def run(edits):
        data = copy.deepcopy(seed)
        for section, index, key, remove, value in edits:
            entries = data[section]
            if index >= len(entries):
                entries.append(value)
            elif key == "*":
                entries[index] = value
            elif isinstance(entries[index], dict):
                if remove:
                    entries[index].pop(key, None)
                else:
                    entries[index][key] = value
        path.write_text(json.dumps(data))
        h.check()

    run()


def test_coco_reader_bytes(root):
    h, path = _coco_harness(root, "coco_b")
    seed = json.dumps(_coco_seed()).encode()

    @FUZZ
    @given(data=mutated(seed))
    @example(data=b"[" * 100_000)
    def run(data):
        path.write_bytes(data)
        h.check()

    run()


# -- pair lists (CSV, JSONL) ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_paired_list_reader(root, ext):
    base = root / f"paired_{ext}"
    base.mkdir(exist_ok=True)
    for name in ("in.png", "out.png"):
        (base / name).write_bytes(SEEDS["png"])
    seed = (b"input,output\nin.png,out.png\nin.png,out.png\n" if ext == "csv"
            else b'{"input": "in.png", "output": "out.png"}\n{"input": "out.png", "output": "in.png"}\n')
    h = harness(f"paired_{ext}", {"name": "pairs", "plugin": "paired", "params": {"pairs_file": str(base / f"pairs.{ext}")},
                                  "category": "annotated_images", "sequencer": {"plugin": "pairs", "params": {"pairs": 1}}})

    @FUZZ
    @given(data=mutated(seed))
    @example(data=b"[" * 100_000 + b"\n")
    def run(data):
        (base / f"pairs.{ext}").write_bytes(data)
        h.check()

    run()


# -- dense maps (.npy, 16-bit PNG) --------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["npy", "png"])
def test_dense_map_reader(root, ext):
    base = root / f"dense_{ext}"
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "depth").mkdir(exist_ok=True)
    (base / "images" / "a.png").write_bytes(SEEDS["png"])
    if ext == "npy":
        buf = io.BytesIO()
        np.save(buf, np.linspace(0.5, 9.0, 1200, dtype=np.float32).reshape(30, 40))
        seed = buf.getvalue()
    else:
        seed = SEEDS["png16"]
    h = harness(f"dense_{ext}", {"name": "dense", "plugin": "dense_maps", "category": "annotated_images",
                                 "params": {"images": str(base / "images"), "maps": {"depth": str(base / "depth")}},
                                 "renderers": [{"plugin": "depth_map"}], "sequencer": {"plugin": "pairs", "params": {"pairs": 1}}})

    @FUZZ
    @given(data=mutated(seed))
    def run(data):
        (base / "depth" / f"a.{ext}").write_bytes(data)
        assert h.check() == 1

    run()
