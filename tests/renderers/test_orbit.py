"""Orbit rendering: camera geometry (15-degree steps that close after 24 views), normalisation,
offscreen rendering of a generated GLB without a display, and the mesh checks."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")
pytest.importorskip("pyrender")

from uvd_pipeline.errors import BadInput  # noqa: E402
from uvd_pipeline.renderers.orbit import (  # noqa: E402
    Camera,
    MeshLimits,
    OrbitRenderer,
    RenderSettings,
    load_mesh_scene,
    normalize_to_unit_cube,
    orbit_cameras,
)
from uvd_pipeline.samples.meshes import toy_robot  # noqa: E402

LIMITS = MeshLimits(max_vertices=100_000, max_faces=100_000)


@pytest.fixture(scope="module")
def glb_bytes() -> bytes:
    return toy_robot(np.random.default_rng(0)).export(file_type="glb")


@pytest.fixture(scope="module")
def renderer():
    r = OrbitRenderer(RenderSettings(size=96))
    yield r
    r.close()


def test_view_k_sits_at_exactly_15k_degrees_and_k_plus_24_is_the_same_camera():
    cams = orbit_cameras(1.8, 20.0, list(range(48)))
    assert [c.azimuth_deg for c in cams[:24]] == [15.0 * k for k in range(24)]
    for k in range(24):
        assert cams[k] == cams[k + 24]
        assert np.array_equal(cams[k].pose(), cams[k + 24].pose())
    for c in cams[:24]:
        eye = c.position()
        assert math.isclose(np.linalg.norm(eye), 1.8)
        assert math.isclose(math.degrees(math.asin(eye[1] / 1.8)), 20.0)
    # Consecutive cameras are 15 degrees apart around the vertical axis.
    for a, b in zip(cams[:24], cams[1:25]):
        pa, pb = a.position()[[0, 2]], b.position()[[0, 2]]
        angle = math.degrees(math.acos(np.dot(pa, pb) / (np.linalg.norm(pa) * np.linalg.norm(pb))))
        assert math.isclose(angle, 15.0, abs_tol=1e-9)


def test_the_camera_looks_at_the_origin_with_y_up():
    pose = Camera(2.0, 30.0, 45.0).pose()
    eye, forward, up = pose[:3, 3], -pose[:3, 2], pose[:3, 1]
    assert np.allclose(forward, -eye / np.linalg.norm(eye))
    assert up[1] > 0 and np.isclose(np.linalg.det(pose[:3, :3]), 1.0)


def test_normalisation_puts_the_object_in_the_unit_cube_at_the_origin(glb_bytes):
    scene = load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS)
    scene.apply_transform(trimesh.transformations.scale_and_translate(7.0, [3.0, -20.0, 5.0]))
    lo, hi = normalize_to_unit_cube(scene).bounds
    assert np.allclose((lo + hi) / 2, 0.0, atol=1e-6)
    assert math.isclose(float(np.max(hi - lo)), 1.0, rel_tol=1e-6)


def test_renders_a_generated_glb_the_object_turns_and_the_orbit_closes(glb_bytes, renderer):
    scene = normalize_to_unit_cube(load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS))
    views = renderer.render(scene, orbit_cameras(1.8, 25.0, list(range(26))))
    assert all(v.shape == (96, 96, 3) and v.dtype == np.uint8 for v in views)
    background = np.array([255, 255, 255], np.uint8)
    for v in views:
        assert (v[0, 0] == background).all()  # corners show the background
        assert (v != background).any(axis=2).mean() > 0.05  # the object is in view
    for k in range(24):  # every step of 15 degrees changes the picture
        assert np.abs(views[k].astype(int) - views[k + 1].astype(int)).mean() > 0.5, k
    assert np.array_equal(views[24], views[0]) and np.array_equal(views[25], views[1])
    # Without the modulo, a camera at azimuth a + 360 degrees sees (to rounding) what the one at a sees.
    turned = renderer.render(scene, [Camera(1.8, 25.0, 15.0 + 360.0)])[0]
    assert np.abs(turned.astype(int) - views[1].astype(int)).max() <= 1


def test_rendering_is_deterministic_and_lighting_is_the_same_for_every_object(glb_bytes, renderer):
    scene = normalize_to_unit_cube(load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS))
    cams = orbit_cameras(2.0, -30.0, [3, 4])
    first = renderer.render(scene, cams)
    box = normalize_to_unit_cube(trimesh.Scene([trimesh.creation.box()]))
    renderer.render(box, cams)  # another object in between changes nothing
    again = renderer.render(scene, cams)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_two_renderers_in_one_process_can_close_in_any_order(glb_bytes):
    scene = normalize_to_unit_cube(load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS))
    a, b = OrbitRenderer(RenderSettings(size=64)), OrbitRenderer(RenderSettings(size=64))
    va = a.render(scene, orbit_cameras(1.5, 0.0, [0]))
    b.render(scene, orbit_cameras(1.5, 0.0, [0]))
    a.close()
    assert np.array_equal(b.render(scene, orbit_cameras(1.5, 0.0, [0]))[0], va[0])
    b.close()


def test_renders_from_several_threads_give_the_single_thread_pixels(glb_bytes):
    """Workers render on thread pools (Beam DoFns, Ray threaded actors): an EGL context is current
    on one thread at a time, so renders take turns and each detaches the context when done."""
    from concurrent.futures import ThreadPoolExecutor

    scene = normalize_to_unit_cube(load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS))
    views = [[k] for k in range(8)]
    r = OrbitRenderer(RenderSettings(size=64))
    try:
        alone = [r.render(scene, orbit_cameras(1.8, 20.0, v))[0] for v in views]
        with ThreadPoolExecutor(4) as pool:  # a fresh thread per task at first, then reused ones
            threaded = list(pool.map(lambda v: r.render(scene, orbit_cameras(1.8, 20.0, v))[0], views * 3))
    finally:
        r.close()
    assert all(np.array_equal(t, alone[i % 8]) for i, t in enumerate(threaded))


def test_a_context_lost_under_the_renderer_is_rebuilt_and_the_views_are_unchanged(glb_bytes):
    from uvd_pipeline.renderers import orbit

    scene = normalize_to_unit_cube(load_mesh_scene(glb_bytes, "glb", "robot.glb", LIMITS))
    cams = orbit_cameras(1.8, 20.0, [2])
    r = OrbitRenderer(RenderSettings(size=64))
    try:
        before = r.render(scene, cams)[0]
        with orbit._GL_LOCK:  # terminate the EGL display under the live renderer, as a driver reset would
            from OpenGL import EGL

            EGL.eglTerminate(orbit._OFFSCREEN[64]._platform._egl_display)
        after = r.render(scene, cams)[0]
    finally:
        r.close()
    assert np.array_equal(before, after)


def test_renders_without_a_display(glb_bytes, tmp_path):
    """A fresh process with no DISPLAY and no GL platform chosen renders through EGL."""
    (tmp_path / "m.glb").write_bytes(glb_bytes)
    code = textwrap.dedent(
        f"""
        import numpy as np
        from uvd_pipeline.renderers.orbit import *
        data = open({str(tmp_path / "m.glb")!r}, "rb").read()
        scene = normalize_to_unit_cube(load_mesh_scene(data, "glb", "m.glb", MeshLimits(10**6, 10**6)))
        r = OrbitRenderer(RenderSettings(size=64))
        (view,) = r.render(scene, orbit_cameras(1.8, 10.0, [5]))
        r.close()
        import os
        print(view.shape, int((view != 255).any(axis=2).sum()) > 100, os.environ["PYOPENGL_PLATFORM"])
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "(64, 64, 3) True egl"


@pytest.mark.parametrize(
    "data, file_type, reason",
    [
        (b"", "glb", "empty_file"),
        (b"glTF\x02\x00\x00\x00garbage", "glb", "unreadable_mesh"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "obj", "empty_mesh"),
        (b"v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n", "obj", "nan_vertices"),
        (b"v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n", "obj", "degenerate_mesh"),
    ],
)
def test_bad_meshes_raise_bad_input_with_a_reason(data, file_type, reason):
    with pytest.raises(BadInput) as err:
        load_mesh_scene(data, file_type, f"x.{file_type}", LIMITS)
    assert err.value.reason == reason and "x." in err.value.detail


def test_a_mesh_over_the_limits_is_too_large():
    dense = trimesh.creation.icosphere(4).export(file_type="ply")  # 5120 faces
    with pytest.raises(BadInput) as err:
        load_mesh_scene(dense, "ply", "dense.ply", MeshLimits(max_vertices=10**6, max_faces=5000))
    assert err.value.reason == "mesh_too_large" and "5120 faces" in err.value.detail
    assert load_mesh_scene(dense, "ply", "dense.ply", MeshLimits(10**6, 5120)) is not None
