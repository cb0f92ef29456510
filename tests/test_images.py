"""decode_image / to_rgb_array on odd but real files (float images with NaN, multipage TIFFs), and
EXIF orientation (`preprocess.exif`): ignored by default as in LVM's
`Image.open(path).convert('RGB')`, applied on request; the pipeline's decoders and the tokenizer's
preprocess() agree for each setting. Real files, written with PIL."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from uvd_pipeline.errors import BadInput
from uvd_pipeline.images import decode_image, set_exif_policy, to_rgb_array
from uvd_pipeline.pipeline import UnitBuilder, plan_units
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.tokenizer.preprocess import preprocess

def _tiff(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_image_with_non_finite_pixels_is_rejected(bad):
    pixels = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    pixels[3, 4] = bad
    img = decode_image(_tiff([Image.fromarray(pixels, mode="F")]), "f.tif")
    assert img.mode == "F"
    with pytest.raises(BadInput) as info:
        to_rgb_array(img)
    assert info.value.reason == "non_finite_pixels" and "1 NaN or infinite pixels of 600" in info.value.detail


def test_finite_float_image_follows_convert_rgb_as_lvm():
    """One rule for every mode (tokenizer/preprocess.py): PIL's convert('RGB'), which truncates a
    float image and clips it to 0..255."""
    pixels = np.linspace(-10, 300, 600, dtype=np.float32).reshape(20, 30)
    img = decode_image(_tiff([Image.fromarray(pixels, mode="F")]), "f.tif")
    rgb = to_rgb_array(img)
    assert rgb.shape == (20, 30, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert np.array_equal(rgb, np.asarray(img.convert("RGB")))
    inside = (pixels >= 0) & (pixels < 255)
    assert np.array_equal(rgb[..., 0][inside], np.trunc(pixels[inside]).astype(np.uint8))


def test_multipage_tiff_is_read_as_its_first_page():
    data = _tiff([Image.new("RGB", (30, 20), (200, 0, 0)), Image.new("RGB", (50, 40), (0, 0, 200))])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    rgb = to_rgb_array(decode_image(data, "m.tif"))
    assert rgb.shape == (20, 30, 3) and tuple(rgb[10, 15]) == (200, 0, 0)


RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.fixture
def tagged_jpeg(tmp_path):
    """Stored 96 wide x 48 high, red in the stored top-left quarter; EXIF orientation 6 ("rotate 90
    degrees clockwise to show")."""
    img = Image.new("RGB", (96, 48), BLUE)
    img.paste(RED, (0, 0, 48, 24))
    exif = Image.Exif()
    exif[0x0112] = 6
    folder = tmp_path / "imgs"
    folder.mkdir()
    img.save(folder / "tagged.jpg", quality=95, exif=exif.tobytes())
    assert Image.open(folder / "tagged.jpg").getexif()[0x0112] == 6
    return folder / "tagged.jpg"


def _lvm(path) -> np.ndarray:
    """LVM's code: Image.open(path).convert('RGB').resize((256, 256))."""
    return np.asarray(Image.open(path).convert("RGB").resize((256, 256)))


def _built_pixels(folder, exif: str | None) -> np.ndarray:
    data = {"name": "exif", "tokenizer": {"preset": "tiny"},
            "sources": [{"name": "imgs", "plugin": "image_folder", "params": {"path": str(folder)},
                         "category": "unlabelled_images"}]}
    if exif is not None:
        data["preprocess"] = {"exif": exif}
    recipe = parse_recipe(data)
    try:
        (seq,) = UnitBuilder(recipe).build(plan_units(recipe)[0]).sequences
    finally:
        set_exif_policy("ignore")
    return seq.images[0].pixels


def test_exif_is_ignored_by_default_as_in_the_lvm_code(tagged_jpeg):
    data = tagged_jpeg.read_bytes()
    stored = decode_image(data, "tagged.jpg")
    assert stored.size == (96, 48)
    assert np.array_equal(np.asarray(stored.convert("RGB")), np.asarray(Image.open(tagged_jpeg).convert("RGB")))
    lvm = _lvm(tagged_jpeg)
    assert lvm[10, 10].tolist()[0] > 200 and lvm[10, 245].tolist()[2] > 200  # red stays top-left
    assert np.array_equal(preprocess(Image.open(tagged_jpeg)), lvm)
    assert np.array_equal(_built_pixels(tagged_jpeg.parent, None), lvm)
    assert np.array_equal(_built_pixels(tagged_jpeg.parent, "ignore"), lvm)


def test_exif_apply_rotates_on_both_paths(tagged_jpeg):
    shown = ImageOps.exif_transpose(Image.open(tagged_jpeg)).convert("RGB")
    assert shown.size == (48, 96)
    assert decode_image(tagged_jpeg.read_bytes(), "t", exif="apply").size == (48, 96)
    expected = np.asarray(shown.resize((256, 256)))
    assert expected[10, 245, 0] > 200 and expected[10, 10, 2] > 200  # red moved top-right
    assert np.array_equal(preprocess(Image.open(tagged_jpeg), exif="apply"), expected)
    assert np.array_equal(_built_pixels(tagged_jpeg.parent, "apply"), expected)
    assert not np.array_equal(expected, _lvm(tagged_jpeg))


def test_the_exif_option_keeps_old_fingerprints_and_refuses_other_values(tagged_jpeg):
    from uvd_pipeline.errors import RecipeError

    base = {"name": "r", "sources": [{"name": "s", "plugin": "image_folder", "params": {"path": str(tagged_jpeg.parent)},
                                      "category": "unlabelled_images"}]}
    plain = parse_recipe(base)
    assert "exif" not in plain.to_dict().get("preprocess", {})
    assert parse_recipe({**base, "preprocess": {"exif": "ignore"}}).fingerprint() == plain.fingerprint()
    applied = parse_recipe({**base, "preprocess": {"exif": "apply"}})
    assert applied.to_dict()["preprocess"]["exif"] == "apply" and applied.fingerprint() != plain.fingerprint()
    with pytest.raises(RecipeError, match="preprocess.exif"):
        parse_recipe({**base, "preprocess": {"exif": "rotate"}})
    with pytest.raises(ValueError, match="exif"):
        set_exif_policy("rotate")
    with pytest.raises(ValueError, match="exif"):
        preprocess(Image.open(tagged_jpeg), exif="rotate")


def _png16(path, arr: np.ndarray) -> None:
    """A real 16-bit PNG: greyscale through PIL (mode I;16), colour through OpenCV (BGR order)."""
    if arr.ndim == 2:
        Image.fromarray(arr).save(path)
    else:
        import cv2

        assert cv2.imwrite(str(path), arr[:, :, ::-1])


@pytest.mark.parametrize("kind", ["grey", "colour"])
def test_sixteen_bit_pngs_give_the_same_pixels_on_both_paths_as_convert_rgb(tmp_path, kind):
    rng = np.random.default_rng(16)
    shape = (40, 56) if kind == "grey" else (40, 56, 3)
    arr = rng.integers(0, 65536, shape, dtype=np.uint16)
    arr[:4] = rng.integers(0, 256, arr[:4].shape, dtype=np.uint16)  # dark rows: kept by the clip
    folder = tmp_path / "imgs"
    folder.mkdir()
    _png16(folder / "deep.png", arr)
    with Image.open(folder / "deep.png") as opened:
        assert opened.mode == ("I;16" if kind == "grey" else "RGB")
        stored = np.asarray(opened.convert("RGB"))
    if kind == "grey":  # LVM's convert('RGB') clips at 255
        assert np.array_equal(stored[..., 0], np.minimum(arr, 255))
    else:  # PIL keeps the high byte of 16-bit colour samples
        assert np.array_equal(stored, (arr >> 8).astype(np.uint8))
    lvm = _lvm(folder / "deep.png")
    assert np.array_equal(preprocess(Image.open(folder / "deep.png")), lvm)
    assert np.array_equal(_built_pixels(folder, None), lvm)


def _saved(tmp_path, mode: str, fmt: str, size=(70, 45)):
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    if mode == "P":
        img = img.quantize(64)
        img.info["transparency"] = 3
    else:
        img = img.convert(mode)
    path = tmp_path / f"{mode}.{fmt}"
    img.save(path, **({"quality": 90} if fmt == "jpg" else {}))
    return path


@pytest.mark.parametrize("mode,fmt", [("RGB", "jpg"), ("L", "jpg"), ("CMYK", "jpg"), ("RGBA", "png"), ("P", "png"), ("LA", "png")])
@pytest.mark.parametrize("crop", [False, True])
def test_a_read_image_resized_from_its_pil_form_gives_the_lvm_pixels(tmp_path, mode, fmt, crop):
    """The source keeps the decoded PIL image (types.Image.of_decoded) and to_256 resizes it without
    a numpy round trip: the same pixels as LVM's Image.open(p).convert('RGB').resize((256, 256))
    (centre crop first when asked) and as the array path."""
    from uvd_pipeline.images import to_256
    from uvd_pipeline.sources.image_folder import read_image_file

    path = _saved(tmp_path, mode, fmt)
    item = read_image_file(str(path), record=path.name)
    assert item.image.decoded is not None and item.image._pixels is None
    got = to_256(item.image, center_crop=crop)
    assert item.image._pixels is None  # no full-resolution array was made
    lvm = Image.open(path).convert("RGB")
    if crop:
        side = min(lvm.size)
        left, top = (lvm.width - side) // 2, (lvm.height - side) // 2
        lvm = lvm.crop((left, top, left + side, top + side))
    assert np.array_equal(got, np.asarray(lvm.resize((256, 256))))
    assert np.array_equal(got, to_256(item.image.pixels, center_crop=crop))
    assert got.flags.writeable and got.shape == (256, 256, 3)
