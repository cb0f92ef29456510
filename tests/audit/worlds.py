"""Small data in real formats for the audit/export/preview tests, the test plugins' registration,
and datasets built once per test session with the local engine."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

from uvd_pipeline import registry
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.samples.pictures import picture

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = """[uvd_pipeline.sequencers]
test_windows = tests.audit.testplugins:WindowSequencer
test_pairs = tests.audit.testplugins:PairsSequencer
"""
_BUILT: dict[str, Path] = {}


def install_test_plugins(root: Path) -> Path:
    """Register the test sequencers as an installed distribution would (entry points on sys.path)."""
    dist = root / "uvd_testplugins-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: uvd-testplugins\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    for p in (str(root), str(REPO)):
        if p not in sys.path:
            sys.path.insert(0, p)
    registry.clear_cache()
    return root


def make_images(folder: Path, n: int, seed: int, size: tuple[int, int] = (72, 56)) -> Path:
    """n small JPEG/PNG pictures (alternating), all decodable."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = picture(rng, *size)
        if i % 2:
            img.save(folder / f"img_{i:03d}.png")
        else:
            img.save(folder / f"img_{i:03d}.jpg", quality=90)
    return folder


def make_tar(path: Path, n: int, seed: int) -> Path:
    """A webdataset tar (KEY.jpg + KEY.json) of n samples."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for k in range(n):
            buf = io.BytesIO()
            picture(rng, 64, 64).save(buf, format="JPEG", quality=90)
            for ext, data in (("jpg", buf.getvalue()), ("json", json.dumps({"key": f"{k:05d}"}).encode())):
                info = tarfile.TarInfo(f"{k:05d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def source(name: str, path: Path, category: str = "unlabelled_images", **extra) -> dict:
    plugin = "webdataset" if extra.pop("tar", False) else "image_folder"
    params = {"path": str(path)}
    if plugin == "image_folder":
        params["unit_size"] = extra.pop("unit_size", 8)
    return {"name": name, "plugin": plugin, "params": params, "category": category, **extra}


def recipe_dict(sources: list[dict], **extra) -> dict:
    return {"name": "t", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8}, "sources": sources, **extra}


def build_once(tmp_path_factory, key: str, data: dict) -> Path:
    """Build `data` with the local engine once per session (datasets are shared read-only)."""
    if key not in _BUILT:
        out = tmp_path_factory.mktemp(f"ds_{key}")
        summary = run_recipe(parse_recipe(data), str(out), engine="local", quiet=True)
        assert not summary.failures, summary.failures
        _BUILT[key] = out
    return _BUILT[key]


def small_world(tmp_path_factory) -> tuple[Path, dict]:
    """24 pictures (3 units) + a 12-sample tar, single-image sequences, a quarter held out."""
    root = _world_root(tmp_path_factory)
    images = root / "images"
    if not images.exists():
        make_images(images, 24, seed=1)
        make_tar(root / "wds" / "00000.tar", 12, seed=2)
    data = recipe_dict([
        source("web", images, test_fraction=0.25),
        source("laion", root / "wds", tar=True, test_fraction=0.25),
    ])
    return root, data


def _world_root(tmp_path_factory) -> Path:
    if "_root" not in _BUILT:
        _BUILT["_root"] = tmp_path_factory.mktemp("world")
    return _BUILT["_root"]


def small_dataset(tmp_path_factory) -> Path:
    _, data = small_world(tmp_path_factory)
    return build_once(tmp_path_factory, "small", data)
