"""The signature pass: for every record of a work unit, once, a cheap signature set.

A row per image a record contributes: one for an image record, up to three frames at fixed
positions (first, middle, last) for a record that yields several images (a video). Each row holds
the content id (image ids hash the file's bytes, so equal bytes give equal ids), a 64-bit
perceptual hash (`imagehash.phash`: 32x32 grey, DCT, 8x8 low frequencies against their median),
the hashes of nine shifted windows and a tint (curation/views.py: what makes crops and caption
overlays findable), the original size, plain statistics, and every filter plugin's scores.

JPEGs are decoded at reduced scale (PIL's draft mode keeps at least SIGNATURE_SIDE pixels on each
side, FILTER_SIDE when the recipe has filters, whose scores want more detail), so this pass costs a
fraction of a build; other formats decode whole and are shrunk at once. The hash and the
statistics see the grey image area-averaged to STATS_SIDE x STATS_SIDE, which composes with the
decoder's reduction: they hardly depend on how much it reduced the image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from PIL import Image as PILImage

from ..errors import BadInput
from ..ids import canonical_json
from ..images import reduced_decoding
from ..stages import Source
from ..storage.names import escape_name
from ..types import Item, Reject, WorkUnit
from .views import WINDOWS, full_hash, tint, view_hashes

SIGNATURE_VERSION = "2"  # 2: window hashes and tint
SIGNATURE_SIDE = 32  # JPEG draft target: at least this many pixels on each side (1/8 for most photos)
FILTER_SIDE = 256  # the same with filters (image_stats measures at 256 x 256: docs/FILTERS.md)
STATS_SIDE = 64  # statistics and filter scores see the image squashed to this size
POSITIONS = 3  # frames of a multi-image record (a video) that get signatures
BAD_INPUT = "bad_input"  # in a filter's scores: why it could not score the image

SIGNATURE_SCHEMA = pa.schema(
    [
        pa.field("record", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("position", pa.int16()),
        pa.field("phash", pa.uint64()),
        pa.field("views", pa.list_(pa.uint64(), WINDOWS)),
        pa.field("tint", pa.uint16()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("mean", pa.float32()),
        pa.field("std", pa.float32()),
        pa.field("laplacian_var", pa.float32()),
        pa.field("scores", pa.string()),
    ]
)


@dataclass
class Sighted:
    """One image of a record at signature size, with the size it had before reduction."""

    record: str
    image_id: str
    pixels: np.ndarray  # short side at most max(decode side, STATS_SIDE)
    width: int
    height: int


def grey_square(pixels: np.ndarray) -> PILImage.Image:
    """The grey image squashed to STATS_SIDE x STATS_SIDE: what the hash and the statistics see."""
    return PILImage.fromarray(pixels).convert("L").resize((STATS_SIDE, STATS_SIDE), PILImage.BOX)


def phash64(pixels: np.ndarray | PILImage.Image) -> int:
    """The 64-bit DCT perceptual hash (imagehash.phash) of an RGB array or a grey square, as an
    unsigned int (bit 63 = the first coefficient of imagehash's row-major 8x8 array)."""
    return full_hash(pixels if isinstance(pixels, PILImage.Image) else grey_square(pixels))


def grey_stats(grey: PILImage.Image) -> tuple[float, float, float]:
    """(mean, std, variance of the 4-neighbour Laplacian) of a grey square (grey_square)."""
    g = np.asarray(grey, dtype=np.float64)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(g.mean()), float(g.std()), float(lap.var())


def shrink(pixels: np.ndarray, side: int = STATS_SIDE) -> np.ndarray:
    """A copy no larger than needed: the short side brought down to `side` (never up)."""
    h, w = pixels.shape[:2]
    short = min(h, w)
    if short <= side:
        return np.ascontiguousarray(pixels)
    scale = side / short
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(PILImage.fromarray(pixels).resize(size, PILImage.BOX), dtype=np.uint8)


def _original_size(log: list, pixels: np.ndarray) -> tuple[int, int]:
    """The size before reduced decoding of the image these pixels came from, found among the
    decodes since the last item (a source may decode several images per item); (w, h)."""
    h, w = pixels.shape[:2]
    for decoded, original in reversed(log):
        if decoded == (w, h):
            return original
        if decoded == (h, w):  # EXIF orientation turned it after decoding
            return original[1], original[0]
    return w, h


def sight_unit(source: Source, unit: WorkUnit, side: int = SIGNATURE_SIDE) -> tuple[list[Sighted], int]:
    """The images a unit's records contribute (POSITIONS fixed frames of a multi-image record),
    decoded at reduced size (at least `side` pixels a side); and how many records the source read
    (rejects included)."""
    per_record: dict[str, list[Sighted]] = {}
    records: set[str] = set()
    with reduced_decoding(side) as log:
        for got in source.read(unit):
            got.record = escape_name(got.record)  # as the build names it (storage/names.py)
            records.add(got.record)
            if isinstance(got, Reject) or not isinstance(got, Item):
                log.clear()
                continue
            pixels = got.image.pixels
            width, height = _original_size(log, pixels)
            log.clear()
            seen = per_record.setdefault(got.record, [])
            seen.append(Sighted(got.record, got.image.id, shrink(pixels, max(side, STATS_SIDE)), width, height))
    out: list[Sighted] = []
    for images in per_record.values():
        out.extend(fixed_positions(images))
    return out, len(records)


def fixed_positions(images: list[Sighted]) -> list[Sighted]:
    """First, middle and last image of a record (all of them when it has fewer), in order."""
    if len(images) <= POSITIONS:
        return images
    picks = sorted({0, (len(images) - 1) // 2, len(images) - 1})
    return [images[i] for i in picks]


def signature_table(sighted: Iterable[Sighted], filters: list) -> pa.Table:
    """The signature rows of a unit: positions numbered per record, sorted by (record, position)."""
    rows = []
    position: dict[str, int] = {}
    for s in sighted:
        pos = position.get(s.record, 0)
        position[s.record] = pos + 1
        grey = grey_square(s.pixels)
        mean, std, lap = grey_stats(grey)
        scores = {f.name: _score(f, s) for f in filters}
        full, windows = view_hashes(grey)
        rows.append(
            {
                "record": s.record,
                "image_id": s.image_id,
                "position": pos,
                "phash": full,
                "views": windows,
                "tint": tint(s.pixels),
                "width": s.width,
                "height": s.height,
                "mean": mean,
                "std": std,
                "laplacian_var": lap,
                "scores": canonical_json(scores),
            }
        )
    rows.sort(key=lambda r: (r["record"], r["position"]))
    return pa.Table.from_pylist(rows, schema=SIGNATURE_SCHEMA)


def _score(f, s: Sighted) -> dict[str, float | str]:
    """A filter's scores of one image; an image it cannot score keeps the reason instead
    (BAD_INPUT), and the filter step drops the record with it."""
    try:
        return f.score(_signature_image(s))
    except BadInput as exc:
        return {BAD_INPUT: f"{exc.reason}: {exc.detail}"}


def _signature_image(s: Sighted):
    from ..stages import SignatureImage

    return SignatureImage(pixels=s.pixels, width=s.width, height=s.height, record=s.record)
