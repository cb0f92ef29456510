"""End to end: the annotated-image sample world through every issue-3 system on the local engine."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

pytest.importorskip("pycocotools", reason="the COCO sources need pycocotools (extra 'coco')")
pytest.importorskip("cv2", reason="canny_edges needs OpenCV (extra 'edges' or 'video')")

from uvd_pipeline.engines import run_recipe  # noqa: E402
from uvd_pipeline.manifests import open_dataset, verify_dataset  # noqa: E402
from uvd_pipeline.recipe import parse_recipe  # noqa: E402
from uvd_pipeline.samples.annotated import make_coco, make_dense, make_imagenet, make_paired  # noqa: E402

TASKS = {"imagenet_class_groups", "coco_boxes", "coco_pose", "coco_segmentation", "coco_panoptic", "dense_ktuple", "edges",
         "derain", "colorization", "inpainting", "denoise", "low_light"}


def annotated_recipe(root) -> dict:
    s = str(root)
    coco = {"images": f"{s}/coco/images"}
    pairs = {"plugin": "pairs"}

    def src(name, plugin, params, task, **extra):
        return {"name": name, "plugin": plugin, "params": params, "category": "annotated_images", "task": task, **extra}

    def corruption(name):
        return src(name, "image_folder", {"path": f"{s}/paired/clean"}, name, transforms=[{"plugin": name}],
                   sequencer={"plugin": "pairs", "params": {"view": name, "view_first": True}})

    return {
        "name": "annotated", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 32},
        "sources": [
            src("imagenet_groups", "imagenet", {"path": f"{s}/imagenet/train"}, "imagenet_class_groups",
                sequencer={"plugin": "class_groups"}),
            src("coco_boxes", "coco", {**coco, "annotations": [f"{s}/coco/annotations/instances.json"], "kind": "boxes"},
                "coco_boxes", renderers=[{"plugin": "coco_boxes"}], sequencer=pairs),
            src("coco_pose", "coco", {**coco, "annotations": [f"{s}/coco/annotations/person_keypoints.json"], "kind": "keypoints"},
                "coco_pose", renderers=[{"plugin": "openpose"}], sequencer=pairs),
            src("coco_segmentation", "coco", {**coco, "annotations": [f"{s}/coco/annotations/instances.json"], "kind": "segmentation"},
                "coco_segmentation", renderers=[{"plugin": "coco_segmentation"}], sequencer=pairs),
            src("coco_panoptic", "coco_panoptic", {**coco, "panoptic": f"{s}/coco/annotations/panoptic.json", "masks": f"{s}/coco/panoptic"},
                "coco_panoptic", renderers=[{"plugin": "coco_panoptic"}], sequencer=pairs),
            src("dense_ktuple", "dense_maps",
                {"images": f"{s}/dense/images", "maps": {k: f"{s}/dense/{k}" for k in ("depth", "normals", "edges", "segmentation")}},
                "dense_ktuple", renderers=[{"plugin": p} for p in ("depth_map", "normal_map", "edge_map", "segmentation_map")],
                sequencer={"plugin": "ktuple", "params": {"modalities": ["image", "normal_map", "edge_map", "depth_map", "segmentation_map"]}}),
            src("canny", "image_folder", {"path": f"{s}/paired/clean"}, "edges", renderers=[{"plugin": "canny_edges"}], sequencer=pairs),
            src("derain", "paired", {"input": f"{s}/paired/rainy", "output": f"{s}/paired/clean"}, "derain", sequencer=pairs),
            src("derain_list", "paired", {"pairs_file": f"{s}/paired/pairs.csv"}, "derain", sequencer=pairs),
            *(corruption(n) for n in ("colorization", "inpainting", "denoise", "low_light")),
        ],
    }


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    make_imagenet(root, np.random.default_rng(1), classes=8, per_class=4)
    make_coco(root, np.random.default_rng(2))
    make_dense(root, np.random.default_rng(3), n=7)
    make_paired(root, np.random.default_rng(4), n=8)
    out = tmp_path_factory.mktemp("out")
    summary = run_recipe(parse_recipe(annotated_recipe(root)), str(out), engine="local", quiet=True)
    return out, summary


def test_every_task_has_sequences_of_its_shape(built):
    out, summary = built
    assert summary.failures == [] and summary.committed == summary.planned
    m = open_dataset(str(out)).manifest.to_pylist()
    by_task = collections.defaultdict(list)
    for row in m:
        by_task[row["task"]].append(row)
    assert set(by_task) == TASKS
    for task, rows in by_task.items():
        lengths = {r["n_images"] for r in rows}
        assert lengths == ({15} if task == "dense_ktuple" else {16}), task
        assert all(r["category"] == "annotated_images" and r["n_tokens"] == 256 * r["n_images"] for r in rows)
    groups = {json.loads(r["provenance"])["group_size"] for r in by_task["imagenet_class_groups"]}
    assert groups <= {2, 4, 8, 16}
    assert len(by_task["derain"]) == 2  # one from the folders, one from the CSV list
    assert all(json.loads(r["provenance"])["order"] == "view_first" for r in by_task["inpainting"])


def test_read_equals_used_plus_rejected_and_the_bad_records_are_rejected(built):
    out, _ = built
    ds = open_dataset(str(out))
    totals = ds.summary()["totals"]
    assert totals["records_read"] == totals["records_used"] + totals["records_rejected"]
    for entry in ds.ledger:
        c = entry["counts"]
        assert c["records_read"] == c["records_used"] + c["records_rejected"], entry["unit"]
    rejects = ds.rejects().to_pylist()
    reasons = collections.Counter((r["source"], r["reason"]) for r in rejects)
    for reason in ("missing_field", "bad_polygon", "bad_rle", "unknown_image", "unreadable_file"):
        assert reasons[("coco_segmentation", reason)] >= 1, reason
    assert reasons[("coco_boxes", "bad_bbox")] == 1
    assert reasons[("coco_pose", "keypoint_outside_image")] == 1
    assert reasons[("coco_panoptic", "unknown_category")] == 1
    assert reasons[("dense_ktuple", "missing_map")] == 1
    assert reasons[("derain", "no_partner")] == 1
    assert reasons[("imagenet_groups", "not_an_image")] + reasons[("imagenet_groups", "corrupt_image")] == 1
    used = {(row["source"], rec) for row in ds.manifest.to_pylist() for rec in row["records"]}
    rejected = {(r["source"], r["record"]) for r in rejects}
    assert used and rejected and not used & rejected
    assert verify_dataset(str(out)) == []
