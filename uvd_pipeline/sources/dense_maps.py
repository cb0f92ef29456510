"""Images with dense maps in sibling folders matched by name (depth, normals, edges, segmentation).

    images/scene_001.jpg   depth/scene_001.png (16-bit) or .npy   normals/scene_001.npy   ...

`maps` names each folder; a map matches an image when their paths relative to their folders are
equal without the extension. Each item's meta["maps"] holds {name: URL of the map file}; the dense
renderers (renderers/dense.py: depth_map, normal_map, edge_map, segmentation_map) read and draw
them. With `require_all` (the default) an image missing any map is rejected as "missing_map".
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..images import IMAGE_EXTENSIONS
from ..stages import Source
from ..storage import full_path, in_units, join, list_files
from ..types import Item, Reject, WorkUnit
from .image_folder import read_image_file

MAP_EXTENSIONS = (".png", ".npy", ".tif", ".tiff", ".jpg", ".jpeg", ".pgm", ".ppm")


class DenseMapsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: str = Field(description="folder of images (searched recursively)")
    maps: dict[str, str] = Field(min_length=1, description="map name -> folder, e.g. {depth: data/depth}")
    unit_size: int = Field(default=64, ge=1, description="images per work unit")
    require_all: bool = Field(default=True, description="reject an image that lacks any of the maps")


def _stem(rel: str) -> str:
    return posixpath.splitext(rel)[0]


class DenseMapsSource(Source):
    Params = DenseMapsParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        fs, inner, images = list_files(p.images, IMAGE_EXTENSIONS, recursive=True)
        map_roots: dict[str, str] = {}
        map_files: dict[str, dict[str, list[str]]] = {}
        for name, folder in sorted(p.maps.items()):
            mfs, minner, files = list_files(folder, MAP_EXTENSIONS, recursive=True)
            map_roots[name] = full_path(mfs, minner)
            index: dict[str, list[str]] = {}
            for rel in files:
                index.setdefault(_stem(rel), []).append(rel)
            map_files[name] = index
        entries = []
        for rel in images:
            maps = {}
            for name, index in map_files.items():
                found = index.get(_stem(rel), [])
                maps[name] = found if len(found) != 1 else found[0]
            entries.append({"image": rel, "maps": maps})
        root = full_path(fs, inner)
        step = p.unit_size
        return [{"root": root, "map_roots": map_roots, "files": part} for part in in_units(entries, step)]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["files"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        pay = unit.payload
        for entry in pay["files"]:
            rel = entry["image"]
            maps, missing, ambiguous = {}, [], []
            for name, found in entry["maps"].items():
                if isinstance(found, str):
                    maps[name] = join(pay["map_roots"][name], found)
                elif found:
                    ambiguous.append(f"{name}: {found}")
                else:
                    missing.append(name)
            if ambiguous:
                yield Reject(rel, "ambiguous_map", "several map files share the image's name: " + "; ".join(ambiguous))
                continue
            if missing and (self.params.require_all or not maps):
                yield Reject(rel, "missing_map", f"no {missing} map file named like {_stem(rel)}")
                continue
            yield read_image_file(join(pay["root"], rel), record=rel, meta={"maps": maps}, root=pay["root"])
