"""Objaverse objects through the `objaverse` package (extra `objaverse`) -> rendered orbit views.

The package keeps its cache at `~/.objaverse/hf-objaverse-v1`: `object-paths.json.gz` maps each
uid to `glbs/<folder>/<uid>.glb`, and downloaded GLBs sit at those paths. This source

- reads an existing cache offline (`download: false`, the default): it lists the uids whose GLB is
  in the cache and never touches the network; a uid asked for in `uids` that is not in the cache
  becomes a reject (`not_in_cache`), so nothing asked for is lost silently;
- or, with `download: true`, lists uids with `objaverse.load_uids()` and fetches each unit's objects
  into the cache with `objaverse.load_objects()` on the worker that reads the unit (the package skips
  files already there).

`cache_dir` points the package at another cache (the package has no argument for it, so its
module-level `_VERSIONED_PATH` is set for the duration of each call, under a lock). `limit` keeps a
fixed pseudo-random subset: the uids with the smallest hash of (seed, uid), so a larger limit extends
a smaller one. Rendering follows sources/meshes.py (object id = the uid, record = the uid); the
paper's 42,000 train / 8,000 test objects is `test_fraction: 0.16` in the recipe (the split hashes
the uid, so it holds an object's sequences together and is the same on every run).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from ..ids import hash_hex
from ..stages import Source
from ..storage import in_units
from ..types import Item, Reject, WorkUnit
from .meshes import OrbitMakerMixin, OrbitParams, read_mesh_file

OBJECT_PATHS_FILE = "object-paths.json.gz"
_PACKAGE_LOCK = threading.Lock()


class ObjaverseParams(OrbitParams):
    cache_dir: str | None = Field(
        default=None, description="the package's versioned cache folder; null = ~/.objaverse/hf-objaverse-v1"
    )
    uids: list[str] | None = Field(default=None, description="objects to read; null = every uid available")
    limit: int | None = Field(default=None, ge=1, description="keep this many uids (hash-ordered subset)")
    download: bool = Field(default=False, description="fetch missing objects (needs the network)")
    download_processes: int = Field(default=1, ge=1)
    unit_size: int = Field(default=16, ge=1, description="objects per work unit")


def _package() -> Any:
    try:
        import objaverse
    except ImportError as exc:
        raise ImportError(
            f"the objaverse source needs the objaverse extra: pip install 'uvd-pipeline[objaverse]' ({exc})"
        ) from None
    return objaverse


def default_cache_dir() -> str:
    return str(_package()._VERSIONED_PATH)


@contextlib.contextmanager
def _cache_at(cache_dir: str) -> Iterator[Any]:
    """The objaverse module with its cache folder set to cache_dir for the duration."""
    pkg = _package()
    with _PACKAGE_LOCK:
        before = pkg._VERSIONED_PATH
        pkg._VERSIONED_PATH = cache_dir
        try:
            yield pkg
        finally:
            pkg._VERSIONED_PATH = before


def read_object_paths(cache_dir: str) -> dict[str, str]:
    """uid -> path inside the cache, from the cache's own object-paths.json.gz (offline)."""
    path = os.path.join(cache_dir, OBJECT_PATHS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path}: no Objaverse cache here; set cache_dir to a cache made by the objaverse package, "
            "or set download: true to fetch one (needs the network)"
        )
    try:
        with gzip.open(path, "rb") as f:
            paths = json.load(f)
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not a gzipped JSON object of uid -> path ({type(exc).__name__}: {exc})") from None
    if not isinstance(paths, dict):
        raise ValueError(f"{path}: expected a JSON object of uid -> path, got {type(paths).__name__}")
    return paths


def _inside(folder: str, path: str) -> bool:
    """Whether path (symlinks resolved) lies inside folder."""
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


class ObjaverseSource(OrbitMakerMixin, Source):
    Params = ObjaverseParams

    @property
    def cache_dir(self) -> str:
        """Absolute, so that workers with another working directory find it."""
        return os.path.abspath(os.path.expanduser(self.params.cache_dir or default_cache_dir()))

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        cache = self.cache_dir
        if p.download:
            with _cache_at(cache) as pkg:
                available = p.uids if p.uids is not None else pkg.load_uids()
        else:
            paths = read_object_paths(cache)
            present = [u for u, rel in paths.items() if os.path.exists(os.path.join(cache, rel))]
            available = p.uids if p.uids is not None else present
        uids = sorted(dict.fromkeys(available))
        if p.limit is not None:
            uids = sorted(sorted(uids, key=lambda u: hash_hex("objaverse", p.seed, u))[: p.limit])
        return [{"cache_dir": cache, "uids": part} for part in in_units(uids, p.unit_size)]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["uids"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        cache, uids = unit.payload["cache_dir"], unit.payload["uids"]
        try:
            local = self._local_paths(cache, uids)
        except Exception as exc:  # a failed download or a broken index rejects the unit's objects
            for uid in uids:
                yield Reject(uid, "objaverse_unavailable", f"{cache}: {type(exc).__name__}: {exc}")
            return
        maker = self.maker()
        for uid in uids:
            path = local.get(uid)
            if path is None or not os.path.exists(path):
                where = (
                    "the download returned no file" if self.params.download else "not in the cache (download: false)"
                )
                yield Reject(uid, "not_in_cache", f"{uid}: {where} at {cache}")
                continue
            if not _inside(cache, path):  # a crafted index must not make us read files elsewhere
                yield Reject(uid, "unsafe_path", f"{uid}: {path} lies outside the cache {cache}")
                continue
            yield from read_mesh_file(maker, path, uid, uid, unit.source)

    def _local_paths(self, cache: str, uids: list[str]) -> dict[str, str]:
        if self.params.download:
            with _cache_at(cache) as pkg:
                return dict(pkg.load_objects(uids, download_processes=self.params.download_processes))
        paths = read_object_paths(cache)
        return {u: os.path.join(cache, paths[u]) for u in uids if u in paths}
