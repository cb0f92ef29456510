"""The signature pass on real files: perceptual hashes that survive re-encoding and resizing,
reduced JPEG decoding that still reports the original size, fixed frame positions for videos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from uvd_pipeline import registry
from uvd_pipeline.curation.signatures import (
    SIGNATURE_SIDE,
    phash64,
    shrink,
    sight_unit,
    signature_table,
)
from uvd_pipeline.images import decode_image, reduced_decoding
from uvd_pipeline.types import WorkUnit

skimage_data = pytest.importorskip("skimage.data")


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_phash_survives_reencoding_and_resizing_but_tells_photos_apart() -> None:
    photo, other = skimage_data.astronaut(), skimage_data.coffee()
    base = phash64(photo)
    reencoded = phash64(np.asarray(decode_image(jpeg(photo, quality=30)).convert("RGB")))
    half = phash64(np.asarray(PILImage.fromarray(photo).resize((256, 256))))
    assert hamming(base, reencoded) <= 4
    assert hamming(base, half) <= 4
    assert hamming(base, phash64(other)) > 16
    assert 0 <= base < 2**64


def test_reduced_decoding_shrinks_jpegs_and_remembers_their_original_size() -> None:
    big = np.asarray(PILImage.fromarray(skimage_data.chelsea()).resize((1800, 1200)))
    with reduced_decoding(SIGNATURE_SIDE) as log:
        img = decode_image(jpeg(big), "cat.jpg")
    assert SIGNATURE_SIDE <= min(img.size) <= 1200 // 4  # draft mode: 1/8 of 1200 = 150
    assert log == [(img.size, (1800, 1200))]
    assert decode_image(jpeg(big)).size == (1800, 1200)  # outside the block: whole image


def write_folder(root, photos: dict[str, np.ndarray]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, px in photos.items():
        (root / name).write_bytes(jpeg(px) if name.endswith(".jpg") else _png(px))


def _png(px: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(px).save(buf, "PNG")
    return buf.getvalue()


def test_a_units_signature_rows(tmp_path) -> None:
    photo = np.asarray(PILImage.fromarray(skimage_data.astronaut()).resize((1024, 768)))
    write_folder(tmp_path / "imgs", {"a.jpg": photo, "b.png": photo[:300, :500], "c.jpg": np.zeros((40, 60, 3), np.uint8)})
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    source = registry.create_source("image_folder", {"path": str(tmp_path / "imgs")}, 0)
    unit = WorkUnit("u-000000", "web", 0, source.units()[0])
    sighted, n_records = sight_unit(source, unit)
    table = signature_table(sighted, [])
    rows = {r["record"]: r for r in table.to_pylist()}
    assert n_records == 4 and set(rows) == {"a.jpg", "b.png", "c.jpg"}  # the broken file is the build's reject
    assert (rows["a.jpg"]["width"], rows["a.jpg"]["height"]) == (1024, 768)
    assert (rows["b.png"]["width"], rows["b.png"]["height"]) == (500, 300)
    assert rows["c.jpg"]["std"] == 0 and rows["c.jpg"]["laplacian_var"] == 0
    assert rows["a.jpg"]["std"] > 20 and rows["a.jpg"]["laplacian_var"] > rows["c.jpg"]["laplacian_var"]
    assert all(r["position"] == 0 for r in rows.values())
    again = signature_table(sight_unit(source, unit)[0], [])
    assert again.equals(table)


def test_a_video_record_gets_three_frames_at_fixed_positions(tmp_path) -> None:
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    source = registry.create_source("video", {"path": str(tmp_path), "frames": 4, "strides": [5]}, 0)
    unit = WorkUnit("v-000000", "vids", 0, source.units()[0])
    sighted, _ = sight_unit(source, unit)
    table = signature_table(sighted, [])
    assert table.column("position").to_pylist() == [0, 1, 2]
    assert set(table.column("record").to_pylist()) == {"clip.mp4"}
    assert len(set(table.column("image_id").to_pylist())) == 3


def test_shrink_never_enlarges() -> None:
    small = np.zeros((50, 80, 3), np.uint8)
    assert shrink(small).shape == small.shape
    assert min(shrink(np.zeros((1000, 700, 3), np.uint8), 64).shape[:2]) == 64


def test_a_file_name_that_is_not_utf8_is_signed_under_the_builds_escaped_name(tmp_path) -> None:
    import os

    from uvd_pipeline.storage.names import escape_name

    folder = tmp_path / "imgs"
    folder.mkdir()
    raw = os.fsencode(str(folder)) + b"/caf\xe9.jpg"  # a Latin-1 byte: not UTF-8
    with open(raw, "wb") as f:
        f.write(jpeg(skimage_data.coffee()))
    source = registry.create_source("image_folder", {"path": str(folder)}, 0)
    unit = WorkUnit("u-000000", "web", 0, source.units()[0])
    table = signature_table(sight_unit(source, unit)[0], [])
    (record,) = table.column("record").to_pylist()
    assert record == escape_name(os.fsdecode(b"caf\xe9.jpg")) and record.isprintable()
