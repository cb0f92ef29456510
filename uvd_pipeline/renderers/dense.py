"""Dense maps read from files: depth, surface normals, edges and segmentation ids, drawn as images.

A dense-map source (sources/dense_maps.py) puts the URL of each map file in meta["maps"][name];
the renderer named for the kind reads it. Files: PNG (8- or 16-bit, palette "P" for ids), TIFF,
JPEG (edges), or .npy (loaded with allow_pickle=False).

- depth: normalised inverse depth, near = bright (invalid depth <= 0 or non-finite = black);
- normals: RGB = (n + 1) / 2 for float vectors in [-1, 1]; 8-bit RGB files are taken as encoded;
- edges: grey strength, floats in [0, 1] scaled to 255;
- segmentation: integer class ids through the fixed 256-colour palette (nearest resize).

A map must have its image's size (else "size_mismatch": a map of another image labels the wrong
pixels); a meta["maps"] that is not a dict of file URLs is "bad_maps".
"""

from __future__ import annotations

import io
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..images import decode_image
from ..stages import Renderer
from ..storage import read_record_bytes
from ..types import Item
from .palette import ids_to_colours


def load_map(url: str) -> np.ndarray:
    """A map file as a numpy array (H x W or H x W x C), dtype as stored."""
    try:
        data = read_record_bytes(url)
    except BadInput as exc:  # a special file, or over max_record_bytes
        raise BadInput(exc.reason, exc.detail) from None
    except OSError as exc:
        raise BadInput("unreadable_map", f"{url}: {exc}") from None
    if url.lower().endswith(".npy"):
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:  # a bad header raises ValueError, SyntaxError, TokenError, MemoryError ...
            raise BadInput("corrupt_map", f"{url}: {exc}") from None
    else:
        img = decode_image(data, url)
        if img.mode in ("RGBA", "LA", "PA", "CMYK", "YCbCr", "1"):
            img = img.convert("L" if img.mode in ("LA", "1") else "RGB")
        arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
        raise BadInput("bad_map", f"{url}: expected an H x W or H x W x C map, got shape {arr.shape}")
    return arr


def _single_channel(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.ndim == 3:
        if arr.shape[2] >= 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
            return arr[..., 0]
        raise BadInput("bad_map", f"{what} map must have one channel, got shape {arr.shape}")
    return arr


def _grey3(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[:, :, None], 3, axis=2)


def depth_to_image(depth: np.ndarray, stores: str = "depth") -> np.ndarray:
    """Normalised inverse depth as grey RGB; `stores` says whether the file holds depth or inverse depth."""
    d = _single_channel(np.asarray(depth), "depth").astype(np.float64)
    if stores == "depth":
        valid = np.isfinite(d) & (d > 0)
        inv = np.zeros_like(d)
        inv[valid] = 1.0 / d[valid]
    else:
        valid = np.isfinite(d) & (d >= 0)
        inv = np.where(valid, d, 0.0)
    if not valid.any():
        raise BadInput("empty_depth", "no valid depth value in the map")
    lo, hi = inv[valid].min(), inv[valid].max()
    norm = np.zeros_like(inv) if hi <= lo else (inv - lo) / (hi - lo)
    out = np.where(valid, np.rint(norm * 255), 0).astype(np.uint8)
    return _grey3(out)


def normals_to_image(normals: np.ndarray) -> np.ndarray:
    """Surface normals as RGB = (n + 1) / 2; 8-/16-bit RGB files are taken as already encoded."""
    n = np.asarray(normals)
    if n.ndim != 3 or n.shape[2] < 3:
        raise BadInput("bad_map", f"normal map must be H x W x 3, got shape {n.shape}")
    n = n[..., :3]
    if n.dtype == np.uint8:
        return np.ascontiguousarray(n)
    if n.dtype == np.uint16:
        return np.rint(n / 257.0).astype(np.uint8)
    f = n.astype(np.float64)
    if not np.isfinite(f).all():
        raise BadInput("bad_map", "normal map holds non-finite values")
    return np.rint((np.clip(f, -1.0, 1.0) + 1.0) / 2.0 * 255).astype(np.uint8)


def edges_to_image(edges: np.ndarray) -> np.ndarray:
    """Edge strength as grey RGB; floats are read as 0..1, 16-bit as 0..65535."""
    e = np.asarray(edges)
    if e.ndim == 3:
        mean = e[..., :3].mean(axis=2)
        e = np.rint(mean).astype(e.dtype) if np.issubdtype(e.dtype, np.integer) else mean
    if e.dtype == np.uint8:
        out = e
    elif e.dtype == np.uint16:
        out = np.rint(e / 257.0)
    elif e.dtype == np.bool_:
        out = e.astype(np.float64) * 255
    else:
        f = e.astype(np.float64)
        if not np.isfinite(f).all():
            raise BadInput("bad_map", "edge map holds non-finite values")
        out = np.rint(np.clip(f, 0, 1) * 255) if f.max(initial=0) <= 1.0 else np.clip(np.rint(f), 0, 255)
    return _grey3(np.asarray(out).astype(np.uint8))


def segmentation_ids_to_image(ids: np.ndarray) -> np.ndarray:
    """Integer class ids (palette-mode PNG indices, 8/16-bit PNG, integer .npy) through the palette."""
    arr = _single_channel(np.asarray(ids), "segmentation")
    return ids_to_colours(arr)


class MapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    map: str | None = Field(default=None, description="key in meta['maps']; default: the renderer's kind")


class DepthParams(MapParams):
    stores: Literal["depth", "inverse_depth"] = Field(default="depth", description="what the files hold")


class _MapRenderer(Renderer):
    kind: ClassVar[str] = ""
    Params = MapParams

    def render(self, item: Item) -> np.ndarray | None:
        key = self.params.map or self.kind
        maps = item.meta.get("maps")
        if maps is None:
            return None
        if not isinstance(maps, dict):
            raise BadInput("bad_maps", f"meta['maps'] must be a dict of map name -> file, got {type(maps).__name__}")
        url = maps.get(key)
        if url is None:
            return None
        if not isinstance(url, str):
            raise BadInput("bad_maps", f"meta['maps'][{key!r}] must be a file URL, got {type(url).__name__}")
        drawn = self.convert(load_map(url))
        h, w = item.image.pixels.shape[:2]
        if drawn.shape[:2] != (h, w):  # a map of another image: it would label the wrong pixels
            raise BadInput("size_mismatch", f"{url}: the map is {drawn.shape[1]}x{drawn.shape[0]}, the image {w}x{h}")
        return drawn

    def convert(self, arr: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class DepthMapRenderer(_MapRenderer):
    """`depth_map`: meta["maps"]["depth"] (16-bit PNG or .npy) as normalised inverse depth."""

    kind = "depth"
    Params = DepthParams

    def convert(self, arr: np.ndarray) -> np.ndarray:
        return depth_to_image(arr, self.params.stores)


class NormalMapRenderer(_MapRenderer):
    """`normal_map`: meta["maps"]["normals"] as RGB = (n + 1) / 2."""

    kind = "normals"

    def convert(self, arr: np.ndarray) -> np.ndarray:
        return normals_to_image(arr)


class EdgeMapRenderer(_MapRenderer):
    """`edge_map`: meta["maps"]["edges"] as grey edge strength."""

    kind = "edges"

    def convert(self, arr: np.ndarray) -> np.ndarray:
        return edges_to_image(arr)


class SegmentationMapRenderer(_MapRenderer):
    """`segmentation_map`: meta["maps"]["segmentation"] class ids through the fixed palette."""

    kind = "segmentation"
    resample: ClassVar[str] = "nearest"

    def convert(self, arr: np.ndarray) -> np.ndarray:
        return segmentation_ids_to_image(arr)
