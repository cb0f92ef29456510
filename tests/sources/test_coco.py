import collections
import json

import numpy as np
import pytest
from PIL import Image as PILImage

pytest.importorskip("pycocotools", reason="the COCO source decodes masks with pycocotools (extra 'coco')")

from uvd_pipeline.samples.annotated import make_coco  # noqa: E402
from uvd_pipeline.sources.coco import CocoSource  # noqa: E402
from uvd_pipeline.types import Item, Reject, WorkUnit  # noqa: E402


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    make_coco(root, np.random.default_rng(0))
    return root / "coco"


def read_all(source):
    out = []
    for i, payload in enumerate(source.units()):
        json.dumps(payload)  # payloads travel between processes as JSON-able rows
        out += list(source.read(WorkUnit(f"u{i}", "coco", i, payload)))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Reject)]


def _source(coco, kind="all", files=("instances.json", "person_keypoints.json"), **kw):
    return CocoSource(images=str(coco / "images"), annotations=[str(coco / "annotations" / f) for f in files], kind=kind, **kw)


def test_every_deliberately_bad_record_is_a_reject_with_its_reason(coco):
    items, rejects = read_all(_source(coco))
    reasons = {r.record: r.reason for r in rejects}
    assert collections.Counter(reasons.values()) == {
        "missing_field": 1, "bad_polygon": 1, "bad_bbox": 1, "bad_rle": 1, "unknown_image": 1,
        "unknown_category": 1, "keypoint_outside_image": 1, "unreadable_file": 1,
        "image_rejected": 1,  # the valid annotation of missing_file.jpg: a record too
    }
    assert reasons["missing_file.jpg"] == "unreadable_file"
    lost = next(r for r in rejects if r.reason == "image_rejected")
    assert lost.record.startswith("annotation/") and "missing_file.jpg" in lost.detail and "unreadable_file" in lost.detail
    assert all(r.detail for r in rejects)
    kp = next(r for r in rejects if r.reason == "keypoint_outside_image")
    assert "keypoint 9" in kp.detail and "000000000003.jpg" in kp.detail
    assert len(items) == 20  # each image keeps its valid annotations


def test_items_carry_json_able_merged_annotations(coco):
    items, _ = read_all(_source(coco))
    item = items[0]
    json.dumps(item.meta)
    assert item.meta["file_name"] == "000000000001.jpg" and item.record == "000000000001.jpg"
    assert (item.meta["height"], item.meta["width"]) == item.image.pixels.shape[:2]
    anns = item.meta["annotations"]
    person = next(a for a in anns if a["category"] == "person")
    assert len(person["keypoints"]) == 51 and "segmentation" in person and len(person["bbox"]) == 4  # merged by id
    crowd = next(a for a in anns if a["iscrowd"])
    assert isinstance(crowd["segmentation"], dict)


@pytest.mark.parametrize("kind, fields, n_items", [
    ("boxes", {"bbox"}, 20),
    ("keypoints", {"keypoints"}, 19),  # image 3's only person has a keypoint outside the image
    ("segmentation", {"segmentation"}, 20),
])
def test_kind_lists_images_with_that_annotation_and_checks_only_its_fields(coco, kind, fields, n_items):
    files = ("person_keypoints.json",) if kind == "keypoints" else ("instances.json",)
    items, rejects = read_all(_source(coco, kind, files))
    assert len(items) == n_items
    for item in items:
        assert item.meta["annotations"]
        for ann in item.meta["annotations"]:
            assert fields <= set(ann)
            if kind == "boxes":
                assert "segmentation" not in ann and "keypoints" not in ann
    reasons = collections.Counter(r.reason for r in rejects)
    if kind == "boxes":
        assert "bad_polygon" not in reasons and reasons["bad_bbox"] == 1  # polygons do not matter for boxes
    if kind == "keypoints":
        assert reasons == {"keypoint_outside_image": 1, "no_valid_annotation": 1}
    if kind == "segmentation":
        assert reasons["bad_polygon"] == 1 and reasons["bad_rle"] == 1


def test_units_are_deterministic_and_cut_by_images_per_unit(coco):
    a = _source(coco, images_per_unit=6).units()
    assert a == _source(coco, images_per_unit=6).units()
    assert [len(u["images"]) for u in a] == [6, 6, 6, 3]  # 21 listed images (one with a missing file)
    assert a[0]["problems"] and not any(u["problems"] for u in a[1:])
    assert len(_source(coco, max_images=5).units()[0]["images"]) == 5


def _write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_broken_files_and_entries_become_rejects_not_crashes(tmp_path):
    (tmp_path / "images").mkdir()
    PILImage.new("RGB", (40, 30), (9, 9, 9)).save(tmp_path / "images" / "a.jpg")
    PILImage.new("RGB", (50, 50), (9, 9, 9)).save(tmp_path / "images" / "b.jpg")
    good = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
                   {"id": 2, "file_name": "b.jpg", "width": 40, "height": 30},  # the file is 50x50
                   {"file_name": "c.jpg"},
                   {"id": 4, "file_name": "d.jpg"},
                   {"id": 5, "file_name": "a.jpg", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "person"}, {"id": 300, "name": "thing"}, {"name": "nameless"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5]},
            {"id": 3, "image_id": 1, "category_id": 300, "bbox": [1, 1, 5, 5], "segmentation": [[1, 1, 5, 1, 5, 5]]},
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "keypoints": [1, 1, 7] + [0] * 48},
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": "x"},
            {"image_id": 1, "category_id": 1},
            {"id": 6, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 7, "image_id": 4, "category_id": 1, "bbox": [1, 1, 5, 5]},
        ],
    }
    files = [_write(tmp_path / "good.json", good), _write(tmp_path / "broken.json", "{not json"),
             _write(tmp_path / "noimages.json", {"annotations": [], "categories": []})]
    src = CocoSource(images=str(tmp_path / "images"), annotations=[str(f) for f in files])
    items, rejects = read_all(src)
    got = {r.record: r.reason for r in rejects}
    assert got == {
        "broken.json": "bad_coco_file", "noimages.json": "missing_field",
        "good.json:categories[2]": "missing_field", "good.json:images[2]": "missing_field",
        "good.json:annotations[5]": "missing_field",
        "annotation/2": "bbox_outside_image", "annotation/3": "category_out_of_palette",
        "annotation/4": "bad_keypoints", "annotation/5": "bad_bbox",
        "b.jpg": "size_mismatch", "annotation/6": "image_rejected",  # b.jpg's good box: a record too
        "d.jpg": "missing_field", "annotation/7": "bad_image_entry",
        "image/5": "duplicate_file_name",
    }
    assert [i.record for i in items] == ["a.jpg"] and [a["id"] for a in items[0].meta["annotations"]] == [1]


def test_a_valid_compressed_rle_is_kept(tmp_path):
    from pycocotools import mask as mask_api

    (tmp_path / "images").mkdir()
    PILImage.new("RGB", (20, 10)).save(tmp_path / "images" / "a.png")
    m = np.zeros((10, 20), np.uint8)
    m[2:5, 3:9] = 1
    rle = mask_api.encode(np.asfortranarray(m))
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 10}],
            "categories": [{"id": 5, "name": "x"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "iscrowd": 1, "bbox": [3, 2, 6, 3],
                             "segmentation": {"size": [10, 20], "counts": rle["counts"].decode()}}]}
    src = CocoSource(images=str(tmp_path / "images"), annotations=[str(_write(tmp_path / "a.json", data))], kind="segmentation")
    items, rejects = read_all(src)
    assert not rejects and items[0].meta["annotations"][0]["segmentation"]["counts"] == rle["counts"].decode()


def test_panoptic_source_lists_annotated_images_and_rejects_bad_segments(coco):
    from uvd_pipeline.renderers.palette import colours_to_ids
    from uvd_pipeline.renderers.panoptic import CocoPanopticRenderer
    from uvd_pipeline.sources.coco import CocoPanopticSource

    src = CocoPanopticSource(images=str(coco / "images"), panoptic=str(coco / "annotations" / "panoptic.json"),
                             masks=str(coco / "panoptic"), images_per_unit=8)
    units = src.units()
    assert [len(u["images"]) for u in units] == [8, 8, 4]
    items, rejects = read_all(src)
    assert len(items) == 20
    assert {(r.record, r.reason) for r in rejects} == {
        ("segment/2/999", "unknown_category"), ("panoptic.json:annotations[20]", "unknown_image")}
    item = items[0]
    json.dumps(item.meta)
    cats = colours_to_ids(CocoPanopticRenderer().render(item))
    instance_cats = {a["category_id"] for a in json.loads((coco / "annotations" / "instances.json").read_text())["annotations"]
                     if a["image_id"] == 1 and "category_id" in a}
    assert set(np.unique(cats).tolist()) - {187} <= instance_cats and 187 in cats  # stuff plus the image's things


def test_a_broken_panoptic_file_is_one_reject(tmp_path):
    from uvd_pipeline.sources.coco import CocoPanopticSource

    (tmp_path / "p.json").write_text("[1, 2")
    src = CocoPanopticSource(images=str(tmp_path), panoptic=str(tmp_path / "p.json"), masks=str(tmp_path))
    items, rejects = read_all(src)
    assert not items and [(r.record, r.reason) for r in rejects] == [("p.json", "bad_coco_file")]
