"""COCO files are merged by id without overwriting anything (sources/coco_files.py)."""

from __future__ import annotations

import json

from uvd_pipeline.sources.coco_files import collect

IMG = {"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}
ANN = {"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0}


def _file(tmp_path, name, images=(), annotations=(), categories=({"id": 1, "name": "person"},)):
    path = tmp_path / name
    path.write_text(json.dumps({"images": list(images), "annotations": list(annotations), "categories": list(categories)}))
    return str(path)


def test_files_agreeing_on_an_id_are_merged_field_by_field(tmp_path):
    kp = [1.0, 1.0, 2] + [0.0] * 48
    got = collect([_file(tmp_path, "instances.json", [IMG], [ANN]),
                   _file(tmp_path, "person_keypoints.json", [IMG], [{**ANN, "keypoints": kp, "num_keypoints": 1}])])
    assert got.problems == []
    assert got.annotations[7] == {**ANN, "keypoints": kp, "num_keypoints": 1}


def test_an_id_twice_in_one_file_is_a_reject_of_the_second(tmp_path):
    got = collect([_file(tmp_path, "i.json", [IMG, {**IMG, "file_name": "b.jpg"}], [ANN, {**ANN, "bbox": [2, 2, 5, 5]}])])
    assert [(p["record"], p["reason"]) for p in got.problems] == [
        ("i.json:images[1]", "duplicate_image_id"), ("i.json:annotations[1]", "duplicate_annotation_id")]
    assert got.images[1]["file_name"] == "a.jpg" and got.annotations[7]["bbox"] == [1, 1, 5, 5]  # the first stays


def test_a_later_file_disagreeing_is_a_reject_never_an_overwrite(tmp_path):
    got = collect([_file(tmp_path, "a.json", [IMG], [ANN]),
                   _file(tmp_path, "b.json", [{**IMG, "width": 41}], [{**ANN, "image_id": 1, "bbox": [9, 9, 1, 1]}],
                         categories=[{"id": 1, "name": "human"}])])
    assert [(p["record"], p["reason"]) for p in got.problems] == [
        ("b.json:categories[0]", "conflicting_category"), ("b.json:images[0]", "conflicting_image"),
        ("b.json:annotations[0]", "conflicting_annotation")]
    assert "['bbox']" in got.problems[2]["detail"] and "a.json" in got.problems[2]["detail"]
    assert got.images[1]["width"] == 40 and got.annotations[7]["bbox"] == [1, 1, 5, 5] and got.categories[1] == "person"


def test_a_repeated_panoptic_segment_id_is_rejected_under_its_position():
    from uvd_pipeline.sources.coco import _segment_verdicts

    entry = {"png": "1.png", "segments": [{"id": 5, "category_id": 1}, {"id": 5, "category_id": 2}, {"id": 6, "category_id": 1}]}
    assert _segment_verdicts({"id": 1}, entry, {1, 2}) == [
        ("segment/1/5", ""), ("1.png:segments_info[1]", "duplicate_segment_id"), ("segment/1/6", "")]
