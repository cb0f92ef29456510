"""Objaverse: an existing cache read offline (the layout the `objaverse` package writes, made here),
missing objects as rejects, hash-ordered subsets, and the package's own calls on that cache."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")
pytest.importorskip("pyrender")

from uvd_pipeline.samples.meshes import rock, toy_robot  # noqa: E402
from uvd_pipeline.sources.objaverse import ObjaverseSource  # noqa: E402
from uvd_pipeline.types import Item, Reject, WorkUnit  # noqa: E402

UIDS = ["0a1b2c3d4e5f60718293a4b5c6d7e8f9", "11112222333344445555666677778888", "f0e0d0c0b0a090807060504030201000"]
SMALL = {"size": 48}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """hf-objaverse-v1/object-paths.json.gz + glbs/<folder>/<uid>.glb; the third uid is listed, not downloaded."""
    base = tmp_path_factory.mktemp("objaverse") / "hf-objaverse-v1"
    rng = np.random.default_rng(0)
    paths = {uid: f"glbs/000-{i:03d}/{uid}.glb" for i, uid in enumerate(UIDS)}
    meshes = [toy_robot(rng), trimesh.Scene([rock(rng)])]
    for uid, scene in zip(UIDS[:2], meshes):
        (base / os.path.dirname(paths[uid])).mkdir(parents=True)
        (base / paths[uid]).write_bytes(scene.export(file_type="glb"))
    with gzip.open(base / "object-paths.json.gz", "wt") as f:
        json.dump(paths, f)
    return base


def read(src):
    out = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"objaverse-{i:06d}", "objaverse", i, payload)))
    src.teardown()
    return out


def test_offline_lists_only_cached_objects_and_renders_them(cache):
    src = ObjaverseSource(cache_dir=str(cache), **SMALL)
    units = src.units()
    assert [u["uids"] for u in units] == [sorted(UIDS[:2])]
    outs = read(src)
    assert all(isinstance(o, Item) for o in outs) and len(outs) == 32
    for uid in UIDS[:2]:
        views = [o for o in outs if o.record == uid]
        assert len(views) == 16 and {v.meta["object"] for v in views} == {uid}
        assert [v.meta["azimuth_deg"] for v in views] == [15.0 * ((views[0].meta["view"] + j) % 24) for j in range(16)]


def test_asked_for_objects_not_in_the_cache_are_rejects(cache):
    outs = read(ObjaverseSource(cache_dir=str(cache), uids=[UIDS[2], "not-a-uid"], **SMALL))
    assert [(o.record, o.reason) for o in outs] == [(UIDS[2], "not_in_cache"), ("not-a-uid", "not_in_cache")]
    assert all(isinstance(o, Reject) and "download: false" in o.detail for o in outs)


def test_limit_keeps_a_fixed_hash_ordered_subset(cache):
    one = ObjaverseSource(cache_dir=str(cache), uids=UIDS, limit=1).units()[0]["uids"]
    two = ObjaverseSource(cache_dir=str(cache), uids=UIDS, limit=2).units()[0]["uids"]
    assert len(one) == 1 and set(one) < set(two)
    assert ObjaverseSource(cache_dir=str(cache), uids=UIDS, limit=2).units()[0]["uids"] == two


def test_a_missing_cache_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="download: true"):
        ObjaverseSource(cache_dir=str(tmp_path)).units()


def test_the_objaverse_package_reads_the_same_cache_without_the_network(cache):
    objaverse = pytest.importorskip("objaverse")
    before = objaverse._VERSIONED_PATH
    # download mode lists through objaverse.load_uids() (every uid in the index) ...
    listed = ObjaverseSource(cache_dir=str(cache), download=True).units()
    assert [u["uids"] for u in listed] == [sorted(UIDS)]
    # ... and fetches through objaverse.load_objects(), which finds cached files and downloads nothing
    via_package = read(ObjaverseSource(cache_dir=str(cache), download=True, uids=UIDS[:2], **SMALL))
    offline = read(ObjaverseSource(cache_dir=str(cache), **SMALL))
    assert [o.image.id for o in via_package] == [o.image.id for o in offline]
    assert objaverse._VERSIONED_PATH == before  # the package's own cache path is restored


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(ObjaverseSource, tmp_dir=tmp_path, fresh_process=False)
