import numpy as np
import pytest
from PIL import Image as PILImage

from uvd_pipeline.errors import BadInput
from uvd_pipeline.renderers.palette import colours_to_ids
from uvd_pipeline.renderers.panoptic import CocoPanopticRenderer, panoptic_categories, panoptic_segment_ids
from uvd_pipeline.types import Image, Item

from .golden import check_golden


def _encode(ids):
    ids = np.asarray(ids, dtype=np.int64)
    return np.dstack([ids % 256, ids // 256 % 256, ids // 65536]).astype(np.uint8)


@pytest.fixture
def png(tmp_path):
    seg = np.zeros((30, 40), np.int64)
    seg[:, :] = 1  # stuff
    seg[5:20, 5:25] = 300  # a thing whose id needs the G channel
    seg[22:28, 30:38] = 70000  # and the B channel
    seg[0:3, 0:3] = 0  # void
    seg[25:, 0:4] = 55  # a segment the annotation does not list
    PILImage.fromarray(_encode(seg)).save(tmp_path / "p.png")
    return tmp_path / "p.png"


SEGMENTS = [{"id": 1, "category_id": 187}, {"id": 300, "category_id": 18}, {"id": 70000, "category_id": 3}]


def _item(png, segments=SEGMENTS, size=(30, 40)):
    return Item("r", Image("i", np.zeros((*size, 3), np.uint8)), meta={"panoptic": {"file": str(png), "segments": segments}})


def test_panoptic_golden(png):
    check_golden("coco_panoptic", CocoPanopticRenderer().render(_item(png)))


def test_segment_ids_decode_and_map_to_categories(png):
    rgb = np.asarray(PILImage.open(png))
    ids = panoptic_segment_ids(rgb)
    assert ids[10, 10] == 300 and ids[25, 35] == 70000 and ids[0, 0] == 0
    cats = colours_to_ids(CocoPanopticRenderer().render(_item(png)))
    assert cats[10, 10] == 18 and cats[25, 35] == 3 and cats[15, 35] == 187
    assert cats[0, 0] == 0 and cats[27, 1] == 0  # void and unlisted segments are background
    assert CocoPanopticRenderer.resample == "nearest"
    assert not panoptic_categories(ids, []).any()


def test_no_panoptic_gives_no_view_and_a_wrong_size_is_bad_input(png):
    assert CocoPanopticRenderer().render(Item("r", Image("i", np.zeros((4, 4, 3), np.uint8)))) is None
    with pytest.raises(BadInput, match="PNG is 40x30"):
        CocoPanopticRenderer().render(_item(png, size=(31, 40)))
