import numpy as np
import pytest

from uvd_pipeline.errors import BadInput
from uvd_pipeline.renderers.palette import (
    box_colour,
    colours_to_ids,
    ids_to_colours,
    palette_json,
    segmentation_palette,
)


def test_palette_has_256_distinct_colours_and_black_background():
    pal = segmentation_palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert len({tuple(c) for c in pal.tolist()}) == 256
    assert pal[0].tolist() == [0, 0, 0]
    assert pal[1].tolist() == [128, 0, 0] and pal[2].tolist() == [0, 128, 0]  # the VOC colour map
    with pytest.raises(ValueError):
        pal[0, 0] = 1  # read-only: nobody can change the dataset's palette


def test_ids_round_trip_through_colours():
    ids = np.arange(256, dtype=np.int64).reshape(16, 16)
    rgb = ids_to_colours(ids)
    assert rgb.shape == (16, 16, 3)
    assert np.array_equal(colours_to_ids(rgb), ids)
    odd = rgb.copy()
    odd[0, 0] = (1, 2, 3)  # not a palette colour
    assert colours_to_ids(odd)[0, 0] == -1


def test_palette_json_is_the_palette():
    import json

    data = json.loads(palette_json())
    assert data["colors"] == segmentation_palette().tolist()


@pytest.mark.parametrize("bad", [np.array([[256]]), np.array([[-1]]), np.array([[1.5]])])
def test_ids_outside_the_palette_are_bad_input(bad):
    with pytest.raises(BadInput):
        ids_to_colours(bad)


def test_box_colours_are_fixed_and_differ_between_categories():
    assert box_colour(3) == box_colour(3)
    colours = {box_colour(c) for c in range(1, 91)}
    assert len(colours) == 90
