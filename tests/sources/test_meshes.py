"""Mesh folders: every format through trimesh, seeded cameras per object, view ids, rejects."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")
pytest.importorskip("pyrender")

from uvd_pipeline.ids import bytes_id, derived_id  # noqa: E402
from uvd_pipeline.samples.meshes import make_meshes, rock, toy_robot  # noqa: E402
from uvd_pipeline.sources.meshes import ORBIT_PLUGIN, ORBIT_VERSION, MeshFolderSource  # noqa: E402

from .reading import items_by_record, read_all, reject_reasons  # noqa: E402

SMALL = {"size": 64}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("meshes")
    rng = np.random.default_rng(0)
    (root / "robot.glb").write_bytes(toy_robot(rng).export(file_type="glb"))
    rock(rng).export(root / "rock.ply")
    (root / "sub").mkdir()
    trimesh.creation.torus(0.5, 0.2).export(root / "sub" / "ring.obj")
    # glTF with its buffer in a side file, found next to it
    for name, data in trimesh.Scene([trimesh.creation.cone(0.3, 0.8)]).export(file_type="gltf").items():
        (root / "sub" / name).write_bytes(data)
    return root


# Camera orbits are seeded by the source name: every read here uses the same one.
read = partial(read_all, name="meshes")
by_record = partial(items_by_record, rejects_allowed=False)


def test_every_format_gives_sixteen_consecutive_views_with_one_camera_orbit(folder):
    got = by_record(read(MeshFolderSource(path=str(folder), **SMALL)))
    assert sorted(got) == ["robot.glb", "rock.ply", "sub/model.gltf", "sub/ring.obj"]
    for record, views in got.items():
        assert len(views) == 16
        m0 = views[0].meta
        assert m0["object"] == record.rsplit(".", 1)[0]
        assert 1.5 <= m0["radius"] <= 2.2 and -45 <= m0["elevation_deg"] <= 45
        for j, v in enumerate(views):
            m = v.meta
            assert m["order"] == j and m["view"] == (m0["view"] + j) % 24
            assert m["azimuth_deg"] == 15.0 * m["view"]
            assert (m["radius"], m["elevation_deg"]) == (m0["radius"], m0["elevation_deg"])
            assert v.image.pixels.shape == (64, 64, 3)
        assert len({v.image.id for v in views}) == 16


def test_view_ids_name_the_mesh_bytes_and_the_camera(folder):
    got = by_record(read(MeshFolderSource(path=str(folder), extensions=["glb"], **SMALL)))
    (views,) = got.values()
    mesh_id = bytes_id((folder / "robot.glb").read_bytes())
    v = views[3]
    camera = {
        "radius": v.meta["radius"],
        "elevation_deg": v.meta["elevation_deg"],
        "azimuth_deg": v.meta["azimuth_deg"],
    }
    render = {
        "size": 64,
        "yfov_deg": 49.1,
        "background": [255, 255, 255],
        "ambient": 0.3,
        "key_light": 3.0,
        "fill_light": 1.5,
    }
    assert v.image.id == derived_id(mesh_id, ORBIT_PLUGIN, ORBIT_VERSION, {"camera": camera, "render": render})
    assert v.meta["mesh_id"] == mesh_id


def test_cameras_are_seeded_per_object_not_per_unit(folder):
    a = by_record(read(MeshFolderSource(path=str(folder), unit_size=1, **SMALL)))
    b = by_record(read(MeshFolderSource(path=str(folder), unit_size=10, **SMALL)))
    assert {k: [v.image.id for v in vs] for k, vs in a.items()} == {k: [v.image.id for v in vs] for k, vs in b.items()}
    cams = lambda got: sorted((vs[0].meta["radius"], vs[0].meta["elevation_deg"]) for vs in got.values())  # noqa: E731
    assert len(set(cams(a))) == 4  # one orbit per object, different objects differ
    reseeded = by_record(read(MeshFolderSource(path=str(folder), seed=5, **SMALL)))
    assert cams(reseeded) != cams(a)


def test_start_view_and_sequence_length_are_parameters(folder):
    got = by_record(
        read(MeshFolderSource(path=str(folder), extensions=["ply"], start_view=20, sequence_length=6, **SMALL))
    )
    (views,) = got.values()
    assert [v.meta["view"] for v in views] == [20, 21, 22, 23, 0, 1]
    with pytest.raises(ValueError, match="start_view"):
        MeshFolderSource(path=str(folder), start_view=24)
    with pytest.raises(ValueError, match="elevation_range_deg"):
        MeshFolderSource(path=str(folder), elevation_range_deg=(-95, 10))


def test_bad_meshes_are_rejects_with_reasons(tmp_path):
    make_meshes(tmp_path, np.random.default_rng(1))
    src = MeshFolderSource(path=str(tmp_path / "meshes" / "bad"), max_faces=10_000, **SMALL)
    assert reject_reasons(read(src)) == {
        "broken.glb": "unreadable_mesh",
        "dense_sphere.stl": "mesh_too_large",
        "empty.obj": "empty_mesh",
        "nan_vertex.ply": "nan_vertices",
        "points_only.ply": "empty_mesh",
    }
    small = read(MeshFolderSource(path=str(tmp_path / "meshes"), recursive=False, max_file_bytes=1000, **SMALL))
    assert {o.reason for o in small} == {"file_too_large"} and len(small) == 3


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(MeshFolderSource, tmp_dir=tmp_path, fresh_process=False)
