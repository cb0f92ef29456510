"""Benchmark: orbit views rendered per second (renderers/orbit.py, pyrender over EGL, 256x256).

Two generated meshes: the sample world's robot (a few hundred triangles, vertex colours) and a bumpy
sphere of ~80k triangles. For each, several rounds of (a) rendering the 24 views of an orbit and
(b) the whole per-object path of the mesh source: parse the GLB, check it, normalise, render the
16 views of a sequence. Medians are printed; on a machine without a GPU, Mesa's llvmpipe renders.
Usage: python bench/orbit_render.py [--rounds 5] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine  # noqa: E402

from uvd_pipeline.renderers.orbit import (  # noqa: E402
    MeshLimits,
    OrbitRenderer,
    RenderSettings,
    load_mesh_scene,
    normalize_to_unit_cube,
    orbit_cameras,
)
from uvd_pipeline.samples.meshes import toy_robot  # noqa: E402


def meshes() -> dict[str, bytes]:
    import trimesh

    rng = np.random.default_rng(0)
    dense = trimesh.creation.icosphere(6)
    dense.vertices *= 1 + 0.05 * rng.standard_normal((len(dense.vertices), 1))
    return {
        "robot (%d faces)": toy_robot(rng).export(file_type="glb"),
        "bumpy sphere (%d faces)": trimesh.Scene([dense]).export(file_type="glb"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    renderer = OrbitRenderer(RenderSettings(size=args.size))
    limits = MeshLimits(10**7, 10**7)
    results = {}
    start = time.perf_counter()
    renderer.render(
        normalize_to_unit_cube(load_mesh_scene(meshes()["robot (%d faces)"], "glb", "w", limits)),
        orbit_cameras(1.8, 0, [0]),
    )
    context_s = time.perf_counter() - start
    for label, data in meshes().items():
        scene = normalize_to_unit_cube(load_mesh_scene(data, "glb", label, limits))
        faces = sum(len(g.faces) for g in scene.geometry.values())
        orbit = orbit_cameras(1.8, 20.0, list(range(24)))
        renderer.render(scene, orbit)  # warm
        orbit_s, object_s = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            renderer.render(scene, orbit)
            orbit_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            fresh = normalize_to_unit_cube(load_mesh_scene(data, "glb", label, limits))
            renderer.render(fresh, orbit_cameras(2.0, -10.0, list(range(5, 21))))
            object_s.append(time.perf_counter() - t)
        o, p = statistics.median(orbit_s), statistics.median(object_s)
        results[label % faces] = {
            "views_per_s": round(24 / o, 1),
            "ms_per_view": round(1000 * o / 24, 2),
            "object_16_views_s": round(p, 3),
            "objects_per_s": round(1 / p, 2),
        }
    renderer.close()
    print(
        json.dumps(
            {
                "machine": machine(),
                "date": date.today().isoformat(),
                "load_average": load_average(),
                "size": args.size,
                "rounds": args.rounds,
                "first_context_s": round(context_s, 3),
                "meshes": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
