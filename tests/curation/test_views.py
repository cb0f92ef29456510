"""Window hashes and tints (curation/views.py): the same hash rule as imagehash, crops and
caption overlays of real photographs found through the windows, tints that survive brightness
but tell colours apart, and the cluster pass matching any hash of one image with any of another."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pyarrow as pa
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw, ImageEnhance

from uvd_pipeline.curation import SignatureRef, cluster_pass
from uvd_pipeline.curation.signatures import Sighted, grey_square, shrink, signature_table
from uvd_pipeline.curation.views import NEUTRAL_TINT, WINDOWS, tint, tints_close, view_hashes, window_boxes
from uvd_pipeline.errors import UvdError
from uvd_pipeline.manifests.store import OutputStore

from .synthetic import random_view_world, reference, write_signatures
from .test_cluster import SMALL, decisions, rule, world

skimage_data = pytest.importorskip("skimage.data")


def hashes_of(img: PILImage.Image) -> list[int]:
    full, windows = view_hashes(grey_square(shrink(np.asarray(img.convert("RGB")))))
    return [full, *windows]


def nearest(a: list[int], b: list[int]) -> int:
    return min(bin(x ^ y).count("1") for x in a for y in b)


def reencode(img: PILImage.Image, quality: int = 85) -> PILImage.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_the_full_hash_is_imagehash_phash_bit_for_bit() -> None:
    for photo in (skimage_data.astronaut(), skimage_data.coffee(), skimage_data.camera()):
        grey = grey_square(shrink(photo if photo.ndim == 3 else np.stack([photo] * 3, -1)))
        bits = imagehash.phash(grey).hash.reshape(-1).astype(np.uint8)
        assert view_hashes(grey)[0] == int(np.packbits(bits).view(">u8")[0])


def test_windows_cover_the_square_at_three_offsets() -> None:
    boxes = window_boxes(64)
    assert len(boxes) == WINDOWS == 9
    assert {b[2] - b[0] for b in boxes} == {58} and {b[3] - b[1] for b in boxes} == {58}
    assert min(b[0] for b in boxes) == 0 and max(b[2] for b in boxes) == 64
    assert sorted({b[0] for b in boxes}) == [0, 3, 6]


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
CROPS = ((0.05, 0.04, 0.05, 0.06), (0.0, 0.0, 0.1, 0.1), (0.1, 0.1, 0.0, 0.0), (0.03, 0.03, 0.02, 0.02))


def test_crops_and_captions_are_near_through_the_windows() -> None:
    """4 photographs x (4 crops of 5-10 % + a caption band of 1/9): at 4 bits the full hashes
    alone find at most 1 of the 20 copies, any-hash-to-any-hash at least 16 (17 measured)."""
    full_found = any_found = 0
    for name in PHOTOS:
        img = PILImage.fromarray(getattr(skimage_data, name)())
        w, h = img.size
        copies = [reencode(img.crop((int(a * w), int(b * h), w - int(c * w), h - int(d * h)))) for a, b, c, d in CROPS]
        caption = img.copy()
        ImageDraw.Draw(caption).rectangle((0, h - h // 9, w, h), fill=(0, 0, 0))
        copies.append(reencode(caption))
        original = hashes_of(img)
        for copy in map(hashes_of, copies):
            full_found += bin(original[0] ^ copy[0]).count("1") <= 4
            any_found += nearest(original, copy) <= 4
        others = [hashes_of(PILImage.fromarray(getattr(skimage_data, o)())) for o in PHOTOS if o != name]
        assert all(nearest(original, o) > 8 for o in others)
    assert full_found <= 1 and any_found >= 16


def test_tint_survives_brightness_and_tells_colours_apart() -> None:
    img = PILImage.fromarray(skimage_data.coffee())
    base = np.array([tint(np.asarray(img))])
    for factor in (0.85, 1.15):
        assert tints_close(base, np.array([tint(np.asarray(ImageEnhance.Brightness(img).enhance(factor)))]))[0]
    swapped = np.asarray(img)[:, :, ::-1]  # the same layout in other colours
    assert not tints_close(base, np.array([tint(swapped)]))[0]
    assert tint(np.full((8, 8, 3), 120, np.uint8)) == NEUTRAL_TINT
    assert tint(np.zeros((8, 8, 3), np.uint8)) == NEUTRAL_TINT  # nothing lit


def test_signature_rows_carry_windows_and_tint() -> None:
    photo = shrink(skimage_data.astronaut())
    table = signature_table([Sighted("r1", "a" * 32, photo, 512, 512)], [])
    row = table.to_pylist()[0]
    assert len(row["views"]) == WINDOWS and row["phash"] == hashes_of(PILImage.fromarray(photo))[0]
    assert row["tint"] == tint(photo)


@pytest.mark.parametrize("threshold", [0, 4, 6])
def test_cluster_pass_matches_any_hash_and_checks_tints(tmp_path: Path, threshold: int) -> None:
    recs = random_view_world(threshold + 11, 700, threshold)
    store = OutputStore(str(tmp_path))
    result = cluster_pass(store, world(store, recs), threshold, **SMALL)
    expected = reference(recs, rule(), threshold)
    assert decisions(store, result.paths) == expected
    reasons = [r["reason"] for rows in expected.values() for r in rows]
    assert reasons.count("near_duplicate") > 20 and "duplicate" in reasons and "eval_contamination" in reasons


def test_a_views_column_of_the_wrong_width_names_the_file(tmp_path: Path) -> None:
    store = OutputStore(str(tmp_path))
    recs = random_view_world(1, 20, 4, units=1)
    path = write_signatures(store, "u0", recs)
    with pa.ipc.open_file(pa.BufferReader(store.read_bytes(path))) as r:
        table = r.read_all()
    short = pa.array([[1, 2]] * table.num_rows, pa.list_(pa.uint64()))
    table = table.set_column(table.schema.get_field_index("views"), "views", short)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    store.write_bytes(path, sink.getvalue().to_pybytes())
    with pytest.raises(UvdError, match=r"u0\.arrow: column views"):
        cluster_pass(store, [SignatureRef("u0", "s", 1, False, path)], 4, **SMALL)

