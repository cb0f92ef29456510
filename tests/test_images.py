"""decode_image / to_rgb_array on odd but real files: float images with NaN, multipage TIFFs."""

import io

import numpy as np
import pytest
from PIL import Image

from uvd_pipeline.errors import BadInput
from uvd_pipeline.images import decode_image, to_rgb_array


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


def test_finite_float_image_is_scaled_to_8_bits():
    pixels = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    rgb = to_rgb_array(decode_image(_tiff([Image.fromarray(pixels, mode="F")]), "f.tif"))
    assert rgb.shape == (20, 30, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255


def test_multipage_tiff_is_read_as_its_first_page():
    data = _tiff([Image.new("RGB", (30, 20), (200, 0, 0)), Image.new("RGB", (50, 40), (0, 0, 200))])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    rgb = to_rgb_array(decode_image(data, "m.tif"))
    assert rgb.shape == (20, 30, 3) and tuple(rgb[10, 15]) == (200, 0, 0)
