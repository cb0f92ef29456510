"""Property-based fuzzing of every source format's reader: no input makes a worker raise past the
reject path. For mutated bytes of JPEG/PNG, webdataset tars, COCO JSON (bytes and structure),
CSV/JSONL pair lists, AVA CSVs, video files, GLB meshes, .npy depth maps and JHMDB .mat files:
planning the source's units, `source.read(unit)` (every outcome an Item or a Reject) and
`UnitBuilder.build(unit)` (a UnitBuild whose records all end used or rejected) never raise.

Example counts are modest for CI; `UVD_FUZZ_PROFILE=deep` runs many more (and randomised, with
Hypothesis's example database):  UVD_FUZZ_PROFILE=deep pytest tests/reliability/test_fuzz_readers.py
"""

from __future__ import annotations

import copy
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from uvd_pipeline.pipeline.build import UnitBuild, UnitBuilder
from uvd_pipeline.pipeline.plan import unit_id
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.samples.pictures import picture
from uvd_pipeline.types import Item, Reject, WorkUnit

PROFILE = os.environ.get("UVD_FUZZ_PROFILE", "ci")
_COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck))
FUZZ = (settings(max_examples=400, **_COMMON) if PROFILE == "deep"
        else settings(max_examples=25, derandomize=True, database=None, **_COMMON))

# -- mutations ---------------------------------------------------------------------------------------

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 6) -> bytes:
    """`seed` with 1..max_ops byte-level mutations, biased to its first bytes (headers)."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        if not data:
            data = bytearray(draw(st.binary(max_size=32)))
            continue
        head = min(len(data) - 1, 96)
        pos = draw(st.one_of(st.integers(0, head), st.integers(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "set", "int", "insert", "delete", "truncate", "duplicate"]))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "set":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(chunk)] = chunk
        elif op == "int":
            value = draw(st.sampled_from(INTERESTING))
            data[pos : pos + 4] = value.to_bytes(4, draw(st.sampled_from(["little", "big"])))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        else:
            end = min(len(data), pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


# -- the harness ---------------------------------------------------------------------------------------


class Harness:
    """One source (recipe) over files the test rewrites each example; one UnitBuilder, reused as a
    worker would."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.recipe = parse_recipe({"name": "fuzz", "tokenizer": {"preset": "tiny"}, "sources": [spec]})
        self.builder = UnitBuilder(self.recipe)
        self.name = spec["name"]

    def check(self) -> int:
        """Plan, read and build every unit; returns the records seen. Raises on any escape."""
        source = self.builder.stages(self.name).source
        seen = 0
        for i, payload in enumerate(source.units()):
            unit = WorkUnit(unit_id(self.name, i), self.name, i, payload)
            outs = list(source.read(unit))
            assert all(isinstance(o, (Item, Reject)) for o in outs), [type(o).__name__ for o in outs]
            records = {o.record for o in outs}
            built = self.builder.build(unit)
            assert isinstance(built, UnitBuild)
            used = {r for s in built.sequences for r in s.records}
            rejected = {r.record for r in built.rejects}
            assert records <= used | rejected, f"lost: {sorted(records - used - rejected)}"
            assert built.records_read == len(used) + len(rejected - used) == len(records)
            seen += len(records)
        return seen


_HARNESSES: dict[str, Harness] = {}


def harness(name: str, spec: dict[str, Any]) -> Harness:
    if name not in _HARNESSES:
        _HARNESSES[name] = Harness(spec)
    return _HARNESSES[name]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    yield path
    for h in _HARNESSES.values():
        h.builder.close()
    _HARNESSES.clear()


def _bytes(img: PILImage.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


RNG = np.random.default_rng(0)
PHOTO = picture(RNG, 40, 30)
SEEDS = {
    "jpeg": _bytes(PHOTO, "JPEG", quality=80),
    "png": _bytes(PHOTO.convert("P", palette=PILImage.Palette.ADAPTIVE, colors=16), "PNG"),
    "png16": _bytes(PILImage.fromarray((np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)), "PNG"),
    "webp": _bytes(PHOTO, "WEBP", quality=70),
}


EXTENSIONS = {"jpeg": "jpg", "png": "png", "png16": "png", "webp": "webp"}


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


# -- videos ---------------------------------------------------------------------------------------------


def _video_seed(path: Path, fourcc: str) -> bytes:
    from uvd_pipeline.samples.videos import Scene, write_video

    write_video(path, fourcc, (f for f, _, _ in Scene(np.random.default_rng(1), 32, 24).frames(8)))
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize("ext,fourcc", [("avi", "MJPG"), ("mp4", "mp4v")])
def test_video_reader(root, ext, fourcc):
    folder = root / f"video_{ext}"
    folder.mkdir(exist_ok=True)
    seed = _video_seed(folder / f"seed.{ext}", fourcc)
    h = harness(f"video_{ext}", {"name": "videos", "plugin": "video", "category": "unlabelled_videos",
                                 "params": {"path": str(folder), "frames": 3, "strides": [1, 2]},
                                 "sequencer": {"plugin": "video_clip"}})

    @FUZZ
    @given(data=mutated(seed))
    def run(data):
        (folder / f"v.{ext}").write_bytes(data)
        assert h.check() == 1

    run()


def test_ava_csv_reader(root):
    from uvd_pipeline.samples.videos import make_ava

    base = root / "ava"
    make_ava(base, np.random.default_rng(2), videos=1, seconds=4, fps=5.0)
    csv_path = base / "ava" / "annotations.csv"
    seed = csv_path.read_bytes()
    h = harness("ava", {"name": "ava", "plugin": "ava_video", "category": "annotated_videos",
                        "params": {"path": str(base / "ava" / "videos"), "annotations": str(csv_path), "frames": 2, "strides": [1]},
                        "renderers": [{"plugin": "coco_boxes"}], "sequencer": {"plugin": "annotated_video"}})
    huge_time = b"sample00ava,1e308,0.1,0.1,0.5,0.5,12,0\nsample00ava,2e308,0.1,0.1,0.5,0.5,12,0\n"

    @FUZZ
    @given(data=mutated(seed))
    @example(data=huge_time)
    def run(data):
        csv_path.write_bytes(data)
        h.check()

    run()


# -- meshes ---------------------------------------------------------------------------------------------


def test_glb_reader(root):
    import trimesh

    folder = root / "meshes"
    folder.mkdir(exist_ok=True)
    box = trimesh.creation.box()
    box.visual.face_colors = [200, 50, 50, 255]
    seed = box.export(file_type="glb")
    h = harness("meshes", {"name": "meshes", "plugin": "meshes", "category": "synthetic_3d",
                           "params": {"path": str(folder), "size": 32, "sequence_length": 2, "max_faces": 5000},
                           "sequencer": {"plugin": "orbit"}})

    @FUZZ
    @given(data=mutated(seed, max_ops=4))
    def run(data):
        (folder / "m.glb").write_bytes(data)
        assert h.check() == 1

    run()


# -- dense maps (.npy, 16-bit PNG) and JHMDB joints (.mat) --------------------------------------------------


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


def test_jhmdb_mat_reader(root):
    from uvd_pipeline.samples.videos import make_jhmdb

    base = root / "jhmdb"
    make_jhmdb(base, np.random.default_rng(3), videos=1, n=3)
    mat = next((base / "jhmdb" / "joint_positions").rglob("*.mat"))
    seed = mat.read_bytes()
    h = harness("jhmdb", {"name": "jhmdb", "plugin": "jhmdb_video", "category": "annotated_videos",
                          "params": {"path": str(base / "jhmdb"), "frames": 2, "strides": [1]},
                          "renderers": [{"plugin": "openpose"}], "sequencer": {"plugin": "annotated_video"}})

    @FUZZ
    @given(data=mutated(seed))
    def run(data):
        mat.write_bytes(data)
        assert h.check() == 2  # the video, and the sample world's video without joints

    run()
