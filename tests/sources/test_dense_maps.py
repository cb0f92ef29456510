import collections

import numpy as np
import pytest

from uvd_pipeline.samples.annotated import make_dense
from uvd_pipeline.sources.dense_maps import DenseMapsSource
from uvd_pipeline.types import Item, Reject, WorkUnit

KINDS = ("depth", "normals", "edges", "segmentation")


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    make_dense(root, np.random.default_rng(0), n=5)
    return root / "dense"


def _source(dense, **kw):
    return DenseMapsSource(images=str(dense / "images"), maps={k: str(dense / k) for k in KINDS}, **kw)


def _read(src):
    out = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"u{i}", "dense", i, payload)))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Reject)]


def test_maps_match_images_by_name_and_missing_ones_are_rejected(dense):
    items, rejects = _read(_source(dense, unit_size=2))
    assert [i.record for i in items] == [f"scene_{k:03d}.png" for k in range(4)]
    assert [(r.record, r.reason) for r in rejects] == [("scene_004.png", "missing_map")]
    assert "depth" in rejects[0].detail
    for item in items:
        stem = item.record[:-4]
        assert set(item.meta["maps"]) == set(KINDS)
        assert all(item.meta["maps"][k].split("/")[-1].startswith(stem) for k in KINDS)
    assert items[1].meta["maps"]["depth"].endswith(".npy") and items[0].meta["maps"]["depth"].endswith(".png")


def test_without_require_all_partial_maps_are_kept(dense):
    items, rejects = _read(_source(dense, require_all=False))
    assert len(items) == 5 and not rejects
    assert set(items[-1].meta["maps"]) == {"normals", "edges", "segmentation"}


def test_two_files_for_one_name_are_ambiguous(dense, tmp_path):
    import shutil

    depth = tmp_path / "depth"
    shutil.copytree(dense / "depth", depth)
    shutil.copy(depth / "scene_000.png", depth / "scene_000.tif")
    src = DenseMapsSource(images=str(dense / "images"), maps={"depth": str(depth)})
    _, rejects = _read(src)
    assert collections.Counter(r.reason for r in rejects) == {"ambiguous_map": 1, "missing_map": 1}


def test_dense_renderers_draw_every_map_of_the_sample_world(dense):
    from uvd_pipeline.renderers.dense import DepthMapRenderer, EdgeMapRenderer, NormalMapRenderer, SegmentationMapRenderer

    items, _ = _read(_source(dense))
    for item in items:
        h, w = item.image.pixels.shape[:2]
        for r in (DepthMapRenderer(), NormalMapRenderer(), EdgeMapRenderer(), SegmentationMapRenderer()):
            out = r.render(item)
            assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.any()
