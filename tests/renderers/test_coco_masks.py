import numpy as np
import pytest

pytest.importorskip("pycocotools", reason="COCO masks need pycocotools (extra 'coco')")

from uvd_pipeline.errors import BadInput  # noqa: E402
from uvd_pipeline.renderers.coco_masks import check_segmentation, decode_segmentation  # noqa: E402

W, H = 64, 48


@pytest.mark.parametrize(
    "seg, reason",
    [
        ([[1, 2, 3, 4, 5]], "bad_polygon"),
        ([[1, 2, 3, 4]], "bad_polygon"),
        ([[float("nan"), 1, 2, 3, 4, 5]], "bad_polygon"),
        ([[1e9, 1, 2, 3, 4, 5]], "bad_polygon"),  # would take pycocotools down with it
        ([], "bad_polygon"),
        ({"size": [H, W], "counts": [5, 10, 20]}, "bad_rle"),  # covers 35 of 3072 pixels
        ({"size": [H, W], "counts": [5, -10]}, "bad_rle"),
        ({"size": [H + 1, W], "counts": [H * W + W]}, "bad_rle"),
        ({"size": [H, W], "counts": "!!!!"}, "bad_rle"),
        ({"size": [H, W], "counts": "61X13"}, "bad_rle"),  # too short: pycocotools would decode garbage
        ({"counts": [H * W]}, "bad_rle"),
        ("polygon", "bad_segmentation"),
    ],
)
def test_malformed_segmentations_are_bad_input_not_crashes(seg, reason):
    with pytest.raises(BadInput) as err:
        check_segmentation(seg, W, H, "annotation 7")
    assert err.value.reason == reason and "annotation 7" in err.value.detail


def test_polygons_slightly_over_the_border_are_clipped():
    got = check_segmentation([[-1, 0, 65, 0, 65, 49, -1, 49]], W, H)
    assert got == [[0.0, 0.0, 64.0, 0.0, 64.0, 48.0, 0.0, 48.0]]
    assert decode_segmentation(got, W, H).all()


def test_a_valid_uncompressed_rle_round_trips():
    from uvd_pipeline.samples.annotated import uncompressed_rle

    mask = np.zeros((H, W), dtype=bool)
    mask[0, 0] = mask[10:20, 30:40] = True  # starts with a set pixel: counts begin with a 0 run
    rle = uncompressed_rle(mask)
    assert rle["counts"][0] == 0
    assert np.array_equal(decode_segmentation(rle, W, H), mask)
