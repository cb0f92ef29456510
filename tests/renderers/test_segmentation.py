import numpy as np
import pytest

pytest.importorskip("pycocotools", reason="COCO masks need pycocotools (extra 'coco')")
from pycocotools import mask as mask_api  # noqa: E402

from uvd_pipeline.renderers.coco_masks import decode_segmentation  # noqa: E402
from uvd_pipeline.renderers.palette import colours_to_ids, segmentation_palette  # noqa: E402
from uvd_pipeline.renderers.segmentation import CocoSegmentationRenderer  # noqa: E402
from uvd_pipeline.samples.annotated import uncompressed_rle  # noqa: E402
from uvd_pipeline.types import Image, Item  # noqa: E402

W, H = 64, 48


def _anns():
    crowd = np.zeros((H, W), dtype=bool)
    crowd[30:, :20] = True
    small = mask_api.encode(np.asfortranarray(np.pad(np.ones((6, 6), np.uint8), ((10, 32), (40, 18)))))
    return [
        {"id": 1, "category_id": 3, "segmentation": [[4, 4, 40, 4, 40, 30, 4, 30]], "area": 936},
        {"id": 2, "category_id": 18, "segmentation": [[20, 10, 30, 10, 30, 20, 20, 20]], "area": 100},  # on top
        {"id": 3, "category_id": 1, "segmentation": uncompressed_rle(crowd), "area": 360, "iscrowd": 1},
        {"id": 4, "category_id": 62, "segmentation": {"size": small["size"], "counts": small["counts"].decode()}},
    ]


def _item(anns):
    return Item("r", Image("i", np.zeros((H, W, 3), np.uint8)), meta={"annotations": anns})


def test_coco_segmentation_golden():
    from .golden import check_golden

    check_golden("coco_segmentation", CocoSegmentationRenderer().render(_item(_anns())))


def test_colours_invert_to_category_ids_smaller_objects_on_top():
    out = CocoSegmentationRenderer().render(_item(_anns()))
    ids = colours_to_ids(out)
    assert ids[15, 25] == 18  # the small square wins over the big one below it
    assert ids[6, 6] == 3 and ids[40, 5] == 1 and ids[12, 42] == 62 and ids[2, 60] == 0
    assert set(np.unique(ids).tolist()) == {0, 1, 3, 18, 62}
    assert CocoSegmentationRenderer.resample == "nearest"
    assert tuple(out[2, 60]) == tuple(segmentation_palette()[0])


def test_masks_are_pycocotools_decodes():
    ann = _anns()[0]
    ours = decode_segmentation(ann["segmentation"], W, H)
    ref = mask_api.decode(mask_api.merge(mask_api.frPyObjects(ann["segmentation"], H, W))).astype(bool)
    assert np.array_equal(ours, ref) and ours.sum() == mask_api.area(mask_api.merge(mask_api.frPyObjects(ann["segmentation"], H, W)))


def test_crowds_are_left_out_when_asked_and_no_segmentation_gives_no_view():
    ids = colours_to_ids(CocoSegmentationRenderer(include_crowd=False).render(_item(_anns())))
    assert ids[40, 5] == 0
    assert CocoSegmentationRenderer().render(_item([{"id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}])) is None
