"""A folder of meshes (GLB, glTF, OBJ, PLY, STL, OFF through trimesh) -> rendered orbit views.

One mesh file is one record. For each object the source draws, from a generator seeded by
(params.seed, source name, object id) with `uvd_pipeline.ids.rng_for`:

- one camera radius, uniform in `radius_range` (the paper: [1.5, 2.2]);
- one constant elevation, uniform in `elevation_range_deg` (the paper: [-45, 45] degrees);
- the first view of the sequence, uniform in 0..views_per_orbit-1 unless `start_view` fixes it;

and renders `sequence_length` consecutive views of the `views_per_orbit`-view orbit (24 views, 15
degrees apart), wrapping past 360 degrees. Only the views a sequence uses are rendered. `seed` is
the recipe's `seed` unless the source entry sets its own; seeding by object id (not by unit) keeps
an object's cameras when units are re-split.

Each view is one Item: record = the mesh's relative path (accounting is per mesh), image id = the
mesh's id (hash of the file's bytes) + the camera and render settings (DESIGN.md, Identity), meta =
{object, mesh_id, view, order, azimuth_deg, elevation_deg, radius, views_per_orbit}. The `orbit`
sequencer groups them into one sequence per object with split_key = object id; set the recipe's
`test_fraction: 0.16` for the paper's 42,000 : 8,000 train/test proportion.

Rejects: unreadable_file, file_too_large, unreadable_mesh, empty_mesh, nan_vertices, mesh_too_large,
degenerate_mesh, unrenderable_mesh, render_failed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import BadInput
from ..ids import bytes_id, derived_id, rng_for
from ..renderers.orbit import ORBIT_VIEWS, MeshLimits, OrbitRenderer, RenderSettings, orbit_cameras
from ..types import Image, Item, Reject
from .image_folder import FileFolderSource

MESH_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl", ".off")
ORBIT_PLUGIN = "orbit"  # the name that enters view ids (with ORBIT_VERSION)
ORBIT_VERSION = "1"


class OrbitParams(BaseModel):
    """How objects are turned into views; shared by every mesh source."""

    model_config = ConfigDict(extra="forbid")
    seed: int = Field(default=0, description="seeds radius, elevation and start view per object")
    views_per_orbit: int = Field(default=ORBIT_VIEWS, ge=2, le=360, description="azimuth step = 360 / this")
    sequence_length: int = Field(default=16, ge=1, le=16)
    start_view: int | None = Field(default=None, ge=0, description="first view; null = seeded per object")
    radius_range: tuple[float, float] = (1.5, 2.2)
    elevation_range_deg: tuple[float, float] = (-45.0, 45.0)
    size: int = Field(default=256, ge=16, le=2048, description="rendered side in pixels")
    yfov_deg: float = Field(default=49.1, gt=1.0, lt=170.0)
    background: tuple[int, int, int] = (255, 255, 255)
    max_vertices: int = Field(default=2_000_000, ge=1)
    max_faces: int = Field(default=4_000_000, ge=1)
    max_file_bytes: int = Field(default=512 * 2**20, ge=1)

    @model_validator(mode="after")
    def _check(self) -> OrbitParams:
        lo, hi = self.radius_range
        if not 0 < lo <= hi:
            raise ValueError(f"radius_range must be 0 < low <= high, got {self.radius_range}")
        elo, ehi = self.elevation_range_deg
        if not -89.0 <= elo <= ehi <= 89.0:
            raise ValueError(
                f"elevation_range_deg must lie in [-89, 89] with low <= high, got {self.elevation_range_deg}"
            )
        if self.sequence_length > self.views_per_orbit:
            raise ValueError("sequence_length cannot exceed views_per_orbit (views would repeat)")
        if self.start_view is not None and self.start_view >= self.views_per_orbit:
            raise ValueError(f"start_view must be below views_per_orbit ({self.views_per_orbit})")
        return self

    def settings(self) -> RenderSettings:
        return RenderSettings(size=self.size, yfov_deg=self.yfov_deg, background=tuple(self.background))


class OrbitMaker:
    """Reads a mesh and yields its orbit views as Items (or one Reject). One per worker."""

    def __init__(self, params: OrbitParams) -> None:
        self.params = params
        self.limits = MeshLimits(params.max_vertices, params.max_faces)
        self.renderer = OrbitRenderer(params.settings())

    def close(self) -> None:
        self.renderer.close()

    def views(
        self, data: bytes, file_type: str, record: str, object_id: str, source: str, resolver: Any = None
    ) -> list[Item] | Reject:
        from ..renderers.orbit import load_mesh_scene, normalize_to_unit_cube

        p = self.params
        if len(data) > p.max_file_bytes:
            return Reject(
                record, "file_too_large", f"{record}: {len(data)} bytes over max_file_bytes={p.max_file_bytes}"
            )
        try:
            scene = normalize_to_unit_cube(load_mesh_scene(data, file_type, record, self.limits, resolver))
        except BadInput as exc:
            return Reject(record, exc.reason, exc.detail)
        rng = rng_for("orbit", p.seed, source, object_id)
        radius = float(rng.uniform(*p.radius_range))
        elevation = float(rng.uniform(*p.elevation_range_deg))
        drawn_start = int(rng.integers(p.views_per_orbit))
        start = drawn_start if p.start_view is None else p.start_view
        view_numbers = [(start + j) % p.views_per_orbit for j in range(p.sequence_length)]
        cameras = orbit_cameras(radius, elevation, view_numbers, p.views_per_orbit)
        try:
            # A GL error twice on a fresh context rejects the mesh (render_failed); no EGL at all
            # (RenderBackendError) is the machine's problem: the unit fails with the install hint.
            pixels = self.renderer.render(scene, cameras)
        except BadInput as exc:
            return Reject(record, exc.reason, f"{record}: {exc.detail}")
        mesh_id = bytes_id(data)
        settings = self.renderer.settings.as_dict()
        items = []
        for order, (view, cam, px) in enumerate(zip(view_numbers, cameras, pixels)):
            image_id = derived_id(mesh_id, ORBIT_PLUGIN, ORBIT_VERSION, {"camera": cam.as_dict(), "render": settings})
            meta = {
                "object": object_id,
                "mesh_id": mesh_id,
                "view": view,
                "order": order,
                "azimuth_deg": cam.azimuth_deg,
                "elevation_deg": elevation,
                "radius": radius,
                "views_per_orbit": p.views_per_orbit,
                "sequence_length": p.sequence_length,
            }
            items.append(Item(record=record, image=Image(image_id, px), meta=meta))
        return items


class OrbitMakerMixin:
    """The OrbitMaker of a source that renders orbits: one per source instance (so one per worker),
    made on first use, because its renderer holds a GL context that planning never needs, and
    closed at teardown. Put before the Source class in the bases."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._maker: OrbitMaker | None = None

    def maker(self) -> OrbitMaker:
        if self._maker is None:
            self._maker = OrbitMaker(self.params)
        return self._maker

    def teardown(self) -> None:
        if self._maker is not None:
            self._maker.close()
            self._maker = None


class MeshFolderParams(OrbitParams):
    path: str = Field(description="folder of mesh files (local path or fsspec URL)")
    extensions: list[str] = Field(default_factory=lambda: list(MESH_EXTENSIONS))
    recursive: bool = True
    unit_size: int = Field(default=16, ge=1, description="meshes per work unit")


class MeshFolderSource(OrbitMakerMixin, FileFolderSource):
    """Meshes in a folder; object id = the file's relative path without its extension."""

    Params = MeshFolderParams

    def read_file(self, url: str, record: str, source: str) -> Iterator[Item | Reject]:
        yield from read_mesh_file(self.maker(), url, record, posixpath.splitext(record)[0], source)


def read_mesh_file(maker: OrbitMaker, url: str, record: str, object_id: str, source: str) -> Iterator[Item | Reject]:
    """The orbit views of one mesh file, or one Reject. Local glTF/OBJ files find their side files
    (buffers, textures, .mtl) next to them; remote ones are read as single files."""
    import trimesh

    from ..errors import BadInput
    from ..storage import filesystem, open_input

    file_type = posixpath.splitext(url)[1].lower().lstrip(".")
    fs, inner = filesystem(url)
    try:
        size = fs.size(inner)
        if size is not None and size > maker.params.max_file_bytes:
            yield Reject(
                record, "file_too_large", f"{url}: {size} bytes over max_file_bytes={maker.params.max_file_bytes}"
            )
            return
        with open_input(url) as f:  # regular files only (a FIFO would block)
            data = f.read()
    except BadInput as exc:
        yield Reject(record, exc.reason, exc.detail)
        return
    except OSError as exc:
        yield Reject(record, "unreadable_file", f"{url}: {exc}")
        return
    resolver = None
    if "://" not in url:
        resolver = trimesh.resolvers.FilePathResolver(url)
    got = maker.views(data, file_type, record, object_id, source, resolver)
    if isinstance(got, Reject):
        yield got
    else:
        yield from got
