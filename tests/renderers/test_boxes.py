import numpy as np
import pytest

from uvd_pipeline.errors import BadInput
from uvd_pipeline.renderers.boxes import BoxesRenderer, line_width
from uvd_pipeline.renderers.palette import box_colour
from uvd_pipeline.types import Image, Item

from .golden import check_golden


def _grey_item(w=96, h=64, annotations=()):
    x = np.linspace(40, 200, w, dtype=np.float64)
    pixels = np.repeat(np.repeat(x[None, :, None], h, axis=0), 3, axis=2).astype(np.uint8)
    return Item("rec", Image("img", pixels), meta={"annotations": list(annotations)})


ANNS = [
    {"id": 1, "category_id": 1, "bbox": [10, 8, 30, 40], "iscrowd": 0},
    {"id": 2, "category_id": 3, "bbox": [50, 20, 30, 20], "iscrowd": 0},
    {"id": 3, "category_id": 1, "bbox": [80, 40, 40, 40], "iscrowd": 0},  # runs off the image: clipped
    {"id": 4, "category_id": 18, "bbox": [2, 2, 90, 60], "iscrowd": 1},  # crowd: not drawn by default
]


def test_boxes_golden():
    check_golden("boxes", BoxesRenderer().render(_grey_item(annotations=ANNS)))


def test_box_outline_has_the_category_colour_and_inside_is_untouched():
    item = _grey_item(annotations=ANNS[:2])
    out = BoxesRenderer().render(item)
    assert out.shape == item.image.pixels.shape
    assert tuple(out[8, 20]) == box_colour(1)  # top edge of box 1
    assert tuple(out[20, 50]) == box_colour(3)  # left edge of box 2
    assert np.array_equal(out[25, 25], item.image.pixels[25, 25])  # inside box 1
    assert not np.array_equal(out, item.image.pixels)
    assert np.array_equal(item.image.pixels, _grey_item().image.pixels)  # the input is not modified


def test_crowd_regions_are_drawn_only_when_asked():
    item = _grey_item(annotations=[ANNS[3]])
    assert BoxesRenderer().render(item) is None
    out = BoxesRenderer(include_crowd=True).render(item)
    assert tuple(out[2, 40]) == box_colour(18)


def test_line_width_scales_with_the_image():
    assert line_width(256, 256) == 2
    assert line_width(1024, 512) == 8
    assert line_width(64, 64) == 1
    big = _grey_item(w=1024, h=512, annotations=[{"id": 1, "category_id": 1, "bbox": [100, 100, 400, 300]}])
    out = BoxesRenderer().render(big)
    column = (out[150:400, 95:115] == box_colour(1)).all(axis=2)[100]
    assert column.sum() == 8


def test_no_annotations_gives_no_view_and_a_bad_box_is_bad_input():
    assert BoxesRenderer().render(_grey_item()) is None
    with pytest.raises(BadInput, match="bbox"):
        BoxesRenderer().render(_grey_item(annotations=[{"id": 9, "category_id": 1, "bbox": [1, 1, -3, 4]}]))
