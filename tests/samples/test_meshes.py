"""The sample world's meshes and Objaverse cache: loadable, repeatable for a seed."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")

from uvd_pipeline.samples.meshes import DENSE_FACES, make_meshes, make_objaverse_cache  # noqa: E402


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_meshes_and_cache_repeat_for_a_seed_and_load(tmp_path):
    for run in ("a", "b"):
        make_meshes(tmp_path / run, np.random.default_rng(0))
        make_objaverse_cache(tmp_path / run, np.random.default_rng(1))
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    base = tmp_path / "a" / "meshes"
    for name in ("robot.glb", "vase.obj", "rock.ply"):
        scene = trimesh.load(base / name, force="scene")
        assert sum(len(g.faces) for g in scene.geometry.values()) > 100
    assert len(trimesh.load(base / "bad" / "dense_sphere.stl").faces) == DENSE_FACES
    cache = tmp_path / "a" / "objaverse" / "hf-objaverse-v1"
    with gzip.open(cache / "object-paths.json.gz", "rt") as f:
        paths = json.load(f)
    assert len(paths) == 3 and sum((cache / p).exists() for p in paths.values()) == 2
