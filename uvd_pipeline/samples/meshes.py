"""Sample meshes in real formats (GLB, OBJ, PLY, STL) and an Objaverse cache laid out as the
`objaverse` package leaves it, plus the broken meshes real collections hold."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

DENSE_FACES = 20_480  # the dense sphere's faces: over the demo recipe's max_faces, a reject


def _coloured(mesh, rgb) -> object:
    mesh.visual.face_colors = [*rgb, 255]
    return mesh


def toy_robot(rng: np.random.Generator):
    """A trimesh Scene of coloured boxes and a sphere: asymmetric, so every azimuth looks different."""
    import trimesh

    parts = [
        _coloured(trimesh.creation.box((0.6, 0.8, 0.4)), rng.integers(40, 255, 3)),
        _coloured(trimesh.creation.icosphere(2, 0.22).apply_translation([0, 0.62, 0]), rng.integers(40, 255, 3)),
        _coloured(
            trimesh.creation.box((0.15, 0.6, 0.15)).apply_translation([0.42, 0.1, 0.1]), rng.integers(40, 255, 3)
        ),
        _coloured(trimesh.creation.cylinder(0.08, 0.5).apply_translation([-0.2, -0.6, 0.0]), rng.integers(40, 255, 3)),
        _coloured(trimesh.creation.cone(0.12, 0.3).apply_translation([0.0, 0.3, 0.32]), (250, 120, 20)),
    ]
    return trimesh.Scene(parts)


def vase(rng: np.random.Generator):
    import trimesh

    heights = np.linspace(0, 1.2, 24)
    radii = 0.25 + 0.15 * np.sin(heights * 4 + rng.uniform(0, 1)) + 0.05
    profile = np.column_stack([radii, heights])
    mesh = trimesh.creation.revolve(profile, sections=32)
    handle = trimesh.creation.torus(0.18, 0.04).apply_transform(
        trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
    )
    handle.apply_translation([0.45, 0, 0.7])
    return trimesh.util.concatenate([mesh, handle])


def rock(rng: np.random.Generator):
    """A bumpy icosphere with per-vertex colours (PLY keeps them)."""
    import trimesh

    mesh = trimesh.creation.icosphere(3, 0.5)
    mesh.vertices *= 1 + 0.15 * rng.standard_normal((len(mesh.vertices), 1))
    mesh.vertices[:, 1] *= 0.6
    shade = (mesh.vertices[:, 1:2] - mesh.vertices[:, 1].min()) / np.ptp(mesh.vertices[:, 1])
    mesh.visual.vertex_colors = np.column_stack(
        [90 + 120 * shade, 80 + 60 * shade, 60 + 30 * (1 - shade), np.full((len(shade), 1), 255)]
    ).astype(np.uint8)
    return mesh


def make_meshes(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`meshes/`: robot.glb, vase.obj, rock.ply; and empty, broken, NaN, point-cloud and dense meshes."""
    import trimesh

    base = root / "meshes"
    base.mkdir(parents=True, exist_ok=True)
    (base / "robot.glb").write_bytes(toy_robot(rng).export(file_type="glb"))
    vase(rng).export(base / "vase.obj")
    rock(rng).export(base / "rock.ply")
    bad = base / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "empty.obj").write_text("# an OBJ with vertices and no faces\nv 0 0 0\nv 1 0 0\nv 0 1 0\n")
    (bad / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00" + bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    nan = trimesh.creation.box()
    nan.vertices[3] = [np.nan, 0.0, 0.0]
    (bad / "nan_vertex.ply").write_bytes(nan.export(file_type="ply"))
    cloud = trimesh.PointCloud(rng.uniform(-1, 1, (50, 3)))
    (bad / "points_only.ply").write_bytes(cloud.export(file_type="ply"))
    trimesh.creation.icosphere(5).export(bad / "dense_sphere.stl")
    return {"meshes": 3, "bad_meshes": 5}


def make_objaverse_cache(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """`objaverse/hf-objaverse-v1/`: object-paths.json.gz and glbs/000-000/<uid>.glb, the layout the
    `objaverse` package downloads into; one listed object is not downloaded (offline: skipped)."""
    base = root / "objaverse" / "hf-objaverse-v1"
    folder = base / "glbs" / "000-000"
    folder.mkdir(parents=True, exist_ok=True)
    uids = [f"{int(x):032x}" for x in rng.integers(0, 2**62, 3)]
    paths = {uid: f"glbs/000-000/{uid}.glb" for uid in uids}
    (folder / f"{uids[0]}.glb").write_bytes(toy_robot(rng).export(file_type="glb"))
    import trimesh

    (folder / f"{uids[1]}.glb").write_bytes(trimesh.Scene([vase(rng)]).export(file_type="glb"))
    with open(base / "object-paths.json.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(json.dumps(paths).encode())
    return {"objaverse_objects": 2}
