"""Property-based fuzzing of the media readers: video files (AVI/MJPG, MP4), AVA CSVs, GLB meshes and
JHMDB .mat files; see test_fuzz_readers.py for what is checked and how to run the deep profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given

from .fuzzing import FUZZ, FUZZ_SLOW, fuzz_root, harness, mutated


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    yield from fuzz_root(tmp_path_factory)


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


def test_jhmdb_mat_reader(root):
    from uvd_pipeline.samples.videos import make_jhmdb

    base = root / "jhmdb"
    make_jhmdb(base, np.random.default_rng(3), videos=1, n=3)
    mat = next((base / "jhmdb" / "joint_positions").rglob("*.mat"))
    seed = mat.read_bytes()
    h = harness("jhmdb", {"name": "jhmdb", "plugin": "jhmdb_video", "category": "annotated_videos",
                          "params": {"path": str(base / "jhmdb"), "frames": 2, "strides": [1]},
                          "renderers": [{"plugin": "openpose"}], "sequencer": {"plugin": "annotated_video"}})

    @FUZZ_SLOW
    @given(data=mutated(seed))
    def run(data):
        mat.write_bytes(data)
        assert h.check() == 2  # the video, and the sample world's video without joints

    run()
