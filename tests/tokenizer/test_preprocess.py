"""preprocess follows LVM: Image.convert('RGB') (+ optional centre crop), resize((256, 256))."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from uvd_pipeline.tokenizer import preprocess

from .conftest import synthetic_photos


def _source(size, seed=0) -> Image.Image:
    w, h = size
    arr = synthetic_photos(1, seed=seed, size=max(w, h))[0][:h, :w]
    return Image.fromarray(arr)


def _lvm(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((256, 256)))


CASES = [
    # (mode, format, size)
    ("RGB", "JPEG", (301, 177)),
    ("RGB", "PNG", (17, 999)),
    ("RGB", "PNG", (256, 256)),
    ("RGB", "PNG", (1, 1)),
    ("L", "JPEG", (333, 250)),
    ("CMYK", "JPEG", (120, 95)),
    ("RGBA", "PNG", (257, 255)),
    ("LA", "PNG", (90, 300)),
    ("P", "PNG", (401, 203)),
    ("1", "PNG", (64, 77)),
]


@pytest.mark.parametrize("mode, fmt, size", CASES)
def test_equals_pil_convert_resize(tmp_path, mode, fmt, size):
    img = _source(size).convert(mode)
    if mode in ("RGBA", "LA"):  # a real alpha channel: alpha must be dropped, not composited
        alpha = Image.fromarray((np.arange(size[0] * size[1]) % 256).astype(np.uint8).reshape(size[1], size[0]))
        img.putalpha(alpha)
    path = tmp_path / f"img.{fmt.lower()}"
    img.save(path, format=fmt)
    with Image.open(path) as opened:
        got = preprocess(opened)
    with Image.open(path) as opened:
        want = _lvm(opened)
    assert got.shape == (256, 256, 3) and got.dtype == np.uint8
    assert np.array_equal(got, want)


def test_palette_with_transparency_drops_alpha(tmp_path):
    img = _source((100, 80)).convert("P")
    img.info["transparency"] = 0
    path = tmp_path / "t.png"
    img.save(path, transparency=0)
    with Image.open(path) as opened:
        assert "transparency" in opened.info
        got = preprocess(opened)
    with Image.open(path) as opened:
        assert np.array_equal(got, _lvm(opened))
    with Image.open(path) as opened:
        palette_rgb = np.asarray(opened.convert("RGBA"))[..., :3]
        assert np.array_equal(got, np.asarray(Image.fromarray(palette_rgb).resize((256, 256))))


def test_center_crop(tmp_path):
    img = _source((451, 300))
    got = preprocess(img, center_crop=True)
    want = np.asarray(img.crop((75, 0, 375, 300)).resize((256, 256)))
    assert np.array_equal(got, want)
    tall = _source((99, 200))
    assert np.array_equal(preprocess(tall, center_crop=True),
                          np.asarray(tall.crop((0, 50, 99, 149)).resize((256, 256))))
    square = _source((300, 300))
    assert np.array_equal(preprocess(square, center_crop=True), preprocess(square))


def test_uses_default_resize_filter():
    img = _source((300, 200))
    assert np.array_equal(preprocess(img), np.asarray(img.resize((256, 256))))
    assert not np.array_equal(preprocess(img), np.asarray(img.resize((256, 256), Image.NEAREST)))


def test_sixteen_bit_grayscale_is_clipped_at_255_as_convert_rgb(tmp_path):
    values = np.array([[0, 200], [65535, 257 * 10]], dtype=np.uint16)
    arr = np.kron(values, np.ones((128, 128), dtype=np.uint16))  # 256x256 blocks
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    with Image.open(path) as opened:
        assert opened.mode in ("I;16", "I")
        got = preprocess(opened)
    assert got[0, 0].tolist() == [0, 0, 0]
    assert got[0, 255].tolist() == [200, 200, 200]  # 0..255 kept as is
    assert got[255, 0].tolist() == [255, 255, 255]
    assert got[255, 255].tolist() == [255, 255, 255]  # 2570 clipped, not scaled to 10
    assert np.array_equal(got, np.asarray(Image.open(path).convert("RGB").resize((256, 256))))


def test_returns_fresh_writable_array():
    img = _source((256, 256))
    out = preprocess(img)
    assert out.flags.writeable and out.flags.c_contiguous
    out[...] = 0
    assert preprocess(img).any()


def test_rejects_non_images():
    with pytest.raises(ValueError, match="PIL"):
        preprocess(np.zeros((4, 4, 3), np.uint8))
