"""Mesh orbit views: load and check a mesh, normalise it to the unit cube, render it offscreen.

This is a library module used by the mesh sources (sources/meshes.py, sources/objaverse.py), not a
`Renderer` plugin: a plugin draws one annotation per item, while an orbit makes many views of one
object. The rules are the paper's (LVM, 3D synthetic objects, following Zero-1-to-3):

- the object (every geometry of the file's scene) is centred on the origin and scaled so that the
  longest side of its bounding box is 1, i.e. it fits the unit cube [-0.5, 0.5]^3;
- one camera radius (in [1.5, 2.2]) and one constant elevation (in [-45, 45] degrees) per object;
- azimuths step by exactly 360 / views_per_orbit degrees (24 views -> 15 degrees); view k and view
  k + 24 are the same camera, so the orbit closes;
- the camera looks at the origin with +Y up; lights are fixed relative to the camera (a key light
  above-left, a fill light from the camera, ambient), so every view and every object is lit the same
  way, on the same plain background.

Rendering is offscreen with pyrender over EGL, which needs no display. On Debian/Ubuntu software EGL
(Mesa llvmpipe) is `apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri`. OSMesa is not used:
it needs PyOpenGL >= 3.1.10, newer than pyrender 0.1.45 pins. `PYOPENGL_PLATFORM` is set to `egl`
unless the caller chose another platform before the first render.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import BadInput

ORBIT_VIEWS = 24  # the paper: 24 views, azimuth step 15 degrees
EGL_PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri"


@dataclass(frozen=True)
class Camera:
    """A camera on the orbit: looks at the origin from `radius`, `elevation_deg` above the XZ plane,
    `azimuth_deg` around +Y (0 = on +Z)."""

    radius: float
    elevation_deg: float
    azimuth_deg: float

    def position(self) -> np.ndarray:
        el, az = math.radians(self.elevation_deg), math.radians(self.azimuth_deg)
        return self.radius * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])

    def pose(self) -> np.ndarray:
        """4x4 camera-to-world matrix (OpenGL convention: the camera looks down its -Z)."""
        eye = self.position()
        back = eye / np.linalg.norm(eye)
        right = np.cross([0.0, 1.0, 0.0], back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, back, eye
        return pose

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def orbit_cameras(
    radius: float, elevation_deg: float, views: list[int], views_per_orbit: int = ORBIT_VIEWS
) -> list[Camera]:
    """Cameras for view numbers on an orbit; view k sits at azimuth (k mod n) * 360/n degrees exactly."""
    step = 360.0 / views_per_orbit
    return [Camera(radius, elevation_deg, (k % views_per_orbit) * step) for k in views]


@dataclass(frozen=True)
class MeshLimits:
    max_vertices: int
    max_faces: int


def load_mesh_scene(data: bytes, file_type: str, name: str, limits: MeshLimits, resolver: Any = None) -> Any:
    """Parse a mesh file (glb, gltf, obj, ply, stl, off) into a trimesh Scene, or raise BadInput.

    Reasons: unreadable_mesh (the parser failed), empty_mesh (no triangles), nan_vertices,
    mesh_too_large (over the vertex/face limits), degenerate_mesh (zero extent).
    """
    import trimesh

    if not data:
        raise BadInput("empty_file", name)
    try:
        loaded = trimesh.load(
            trimesh.util.wrap_as_stream(data), file_type=file_type, force="scene", resolver=resolver, process=False
        )
    except Exception as exc:  # parsers raise anything from ValueError to struct.error
        raise BadInput("unreadable_mesh", f"{name}: {type(exc).__name__}: {exc}") from None
    meshes = [g for g in loaded.geometry.values() if isinstance(g, trimesh.Trimesh)]
    n_vertices = sum(len(m.vertices) for m in meshes)
    n_faces = sum(len(m.faces) for m in meshes)
    if n_faces == 0:
        kinds = sorted({type(g).__name__ for g in loaded.geometry.values()}) or ["nothing"]
        raise BadInput("empty_mesh", f"{name}: no triangles (holds {', '.join(kinds)})")
    if n_vertices > limits.max_vertices or n_faces > limits.max_faces:
        raise BadInput(
            "mesh_too_large",
            f"{name}: {n_vertices} vertices / {n_faces} faces over the limits "
            f"{limits.max_vertices} / {limits.max_faces} (params max_vertices, max_faces)",
        )
    for m in meshes:
        if not np.isfinite(m.vertices).all():
            raise BadInput("nan_vertices", f"{name}: vertex coordinates hold NaN or infinity")
    # Keep only triangle meshes (points and lines would be drawn as nothing or as noise).
    for key in [k for k, g in loaded.geometry.items() if not isinstance(g, trimesh.Trimesh)]:
        loaded.delete_geometry(key)
    bounds = loaded.bounds
    if bounds is None or not np.isfinite(bounds).all() or float(np.max(bounds[1] - bounds[0])) <= 0:
        raise BadInput("degenerate_mesh", f"{name}: the mesh has no extent (bounds {bounds})")
    return loaded


def normalize_to_unit_cube(scene: Any) -> Any:
    """Centre the scene's bounding box on the origin and scale its longest side to 1 (in place)."""
    lo, hi = scene.bounds
    scale = 1.0 / float(np.max(hi - lo))
    transform = np.eye(4)
    transform[:3, :3] *= scale
    transform[:3, 3] = -scale * (lo + hi) / 2.0
    scene.apply_transform(transform)
    return scene


@dataclass(frozen=True)
class RenderSettings:
    """What decides the pixels besides the camera; it enters every view's image id."""

    size: int = 256
    yfov_deg: float = 49.1  # Zero-1-to-3's Blender camera (35 mm lens on a 32 mm sensor)
    background: tuple[int, int, int] = (255, 255, 255)
    ambient: float = 0.3
    key_light: float = 3.0
    fill_light: float = 1.5

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "background": list(self.background)}


# One pyrender OffscreenRenderer per process and size, shared by every OrbitRenderer: pyrender's EGL
# platform terminates the (process-wide) EGL display when a renderer is deleted, which would break
# any other renderer still open in the process. Reference-counted; the last user deletes it.
# An EGL context is current on at most one thread at a time, and a worker may render from several
# threads (Beam and Ray run DoFns and tasks on thread pools), so every use of a context happens
# under one process-wide lock and ends by detaching the context from the calling thread.
_GL_LOCK = threading.RLock()
_OFFSCREEN: dict[int, Any] = {}  # size -> pyrender.OffscreenRenderer
_USERS: dict[int, int] = {}  # size -> OrbitRenderers holding it
_EGL_USED = False  # an EGL context was made in this process (so there may be one to detach)


class RenderBackendError(RuntimeError):
    """The GL stack failed (no EGL, a lost context): the machine's problem, not the mesh's. The
    mesh source lets it fail the unit, which the next run redoes, instead of rejecting the mesh."""


def _detach_context() -> None:
    """Leave no EGL context current on this thread, so another thread can make it current."""
    if _EGL_USED:
        from OpenGL import EGL

        EGL.eglReleaseThread()


def _offscreen(size: int) -> Any:
    """The process's offscreen renderer for `size` (made on first use). Call with _GL_LOCK held."""
    global _EGL_USED
    if size not in _OFFSCREEN:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        try:
            import pyrender

            _OFFSCREEN[size] = pyrender.OffscreenRenderer(size, size)
            _EGL_USED = _EGL_USED or os.environ["PYOPENGL_PLATFORM"] == "egl"
        except Exception as exc:
            raise RenderBackendError(
                f"offscreen rendering is not available ({type(exc).__name__}: {exc}); pyrender needs EGL: "
                f"apt-get install -y {EGL_PACKAGES} (and PYOPENGL_PLATFORM unset or 'egl')"
            ) from exc
    return _OFFSCREEN[size]


def _drop_offscreen(size: int | None = None) -> None:
    """Delete one size's renderer, or all of them (None). Call with _GL_LOCK held. Deleting one
    terminates the EGL display under every other, so a reset after a GL error drops them all."""
    for key in list(_OFFSCREEN) if size is None else [size]:
        renderer = _OFFSCREEN.pop(key, None)
        if renderer is None:
            continue
        try:
            renderer.delete()
        except Exception:  # a context already gone (shutdown, the error being reset): nothing to free
            pass


class OrbitRenderer:
    """Renders orbit views through the process's shared offscreen EGL context. Safe to call from
    several threads: renders take turns (one GL context per process)."""

    def __init__(self, settings: RenderSettings) -> None:
        self.settings = settings
        self._holding = False

    def render(self, scene: Any, cameras: list[Camera]) -> list[np.ndarray]:
        """HxWx3 uint8 views of a normalised trimesh Scene, one per camera.

        A GL error is retried once on a fresh context; if it comes back the context is not to blame
        and the mesh is rejected (`render_failed`). No context at all raises RenderBackendError.
        """
        s = self.settings
        with _GL_LOCK:
            if not self._holding:
                _USERS[s.size] = _USERS.get(s.size, 0) + 1
                self._holding = True
            for attempt in (1, 2):
                try:
                    renderer = _offscreen(s.size)
                    world, camera, key, fill = self._world(scene)  # afresh: GL buffers belong to a context
                    views = []
                    for cam in cameras:
                        pose = cam.pose()
                        world.set_pose(camera, pose)
                        world.set_pose(fill, pose)
                        world.set_pose(key, pose @ _KEY_LIGHT_OFFSET)
                        color, _ = renderer.render(world)
                        views.append(np.ascontiguousarray(color[:, :, :3], dtype=np.uint8))
                    return views
                except (RenderBackendError, BadInput):
                    raise
                except Exception as exc:
                    _drop_offscreen()  # the scene's GL buffers die with the context: re-upload on retry
                    if attempt == 2:
                        raise BadInput("render_failed", f"{type(exc).__name__}: {exc} (twice, on a fresh context)") from None
                finally:
                    _detach_context()
        raise AssertionError("unreachable")

    def _world(self, scene: Any) -> tuple[Any, Any, Any, Any]:
        """A pyrender scene of the mesh with the camera and the two lights (poses set per view)."""
        import pyrender

        s = self.settings
        bg = [c / 255.0 for c in s.background] + [1.0]
        try:
            world = pyrender.Scene.from_trimesh_scene(scene, bg_color=bg, ambient_light=[s.ambient] * 3)
        except Exception as exc:
            raise BadInput("unrenderable_mesh", f"{type(exc).__name__}: {exc}") from None
        camera = world.add(pyrender.PerspectiveCamera(yfov=math.radians(s.yfov_deg), aspectRatio=1.0, znear=0.05))
        key = world.add(pyrender.DirectionalLight(color=np.ones(3), intensity=s.key_light))
        fill = world.add(pyrender.DirectionalLight(color=np.ones(3), intensity=s.fill_light))
        return world, camera, key, fill

    def close(self) -> None:
        with _GL_LOCK:
            if not self._holding:
                return
            self._holding = False
            _USERS[self.settings.size] -= 1
            if _USERS[self.settings.size] <= 0:
                del _USERS[self.settings.size]
                _drop_offscreen(self.settings.size)
                _detach_context()


def _rotation_x(a: float) -> np.ndarray:
    m = np.eye(4)
    m[1:3, 1:3] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    return m


def _rotation_y(a: float) -> np.ndarray:
    m = np.eye(4)
    m[0, 0], m[0, 2], m[2, 0], m[2, 2] = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
    return m


_KEY_LIGHT_OFFSET = _rotation_x(math.radians(-35)) @ _rotation_y(math.radians(-35))  # above-left of the camera
