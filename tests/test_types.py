"""types.Image: an image a source decoded keeps its PIL form until a stage reads `pixels`."""

import pickle

import numpy as np
import pytest
from PIL import Image as PILImage

from uvd_pipeline.types import Image


def _photo(mode: str = "RGB") -> PILImage.Image:
    rng = np.random.default_rng(3)
    return PILImage.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).convert(mode)


def test_decoded_image_makes_its_array_only_when_read_and_it_equals_the_pil_pixels():
    pil = _photo()
    image = Image.of_decoded("a", pil)
    assert image._pixels is None and image.decoded is pil
    px = image.pixels
    assert px.dtype == np.uint8 and px.shape == (30, 50, 3)
    assert np.array_equal(px, np.asarray(pil))
    assert image.pixels is px  # made once
    assert repr(image) == "Image(id='a', shape=(30, 50, 3))"


def test_array_image_is_checked_as_before():
    assert Image("b", np.zeros((4, 5, 3), np.uint8)).decoded is None
    with pytest.raises(ValueError, match="expected HxWx3 uint8"):
        Image("c", np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="expected HxWx3 uint8"):
        Image("d", np.zeros((4, 5, 3), np.float32))


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_decoded_image_must_be_rgb(mode):
    with pytest.raises(ValueError, match="RGB PIL image"):
        Image.of_decoded("e", _photo(mode))


def test_decoded_image_survives_pickling():
    image = pickle.loads(pickle.dumps(Image.of_decoded("f", _photo())))
    assert image.id == "f" and np.array_equal(image.pixels, np.asarray(_photo()))
