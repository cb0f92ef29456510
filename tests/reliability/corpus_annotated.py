"""The annotated half of the bad-input corpus (corpus.py has the rest and the recipe): COCO JSON,
pair lists, JHMDB joints, dense maps, an Objaverse cache and AVA CSVs, each with a control."""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from uvd_pipeline.samples.pictures import picture

from .corpus import Kind, glb_bytes


def make_coco(base: Path, rng: np.random.Generator) -> list[Kind]:
    src = "coco"
    (base / "images").mkdir(parents=True)
    images = []
    for i in (1, 2, 3):
        picture(rng, 80, 60).save(base / "images" / f"{i:04d}.jpg", quality=90)
        images.append({"id": i, "file_name": f"{i:04d}.jpg", "width": 80, "height": 60})
    images.append({"id": 4, "file_name": "not_on_disk.jpg", "width": 80, "height": 60})
    images.append({"id": 5, "width": 80, "height": 60})  # no file_name
    picture(rng, 80, 60).save(base / "secret.jpg", quality=90)  # next to images/, not in it
    images.append({"id": 6, "file_name": "../secret.jpg", "width": 80, "height": 60})
    # file_name strings that are not valid Unicode: a lone low surrogate (a Latin-1 byte of a file
    # system name, as Python's surrogateescape spells it: the file exists) and a lone high one
    picture(rng, 80, 60).save(os.fsdecode(os.fsencode(str(base / "images")) + b"/caf\xe9.jpg"), quality=90)
    images.append({"id": 7, "file_name": "caf\udce9.jpg", "width": 80, "height": 60})
    images.append({"id": 8, "file_name": "\ud800.jpg", "width": 80, "height": 60})
    (base / "images" / "link_out.jpg").symlink_to(base / "secret.jpg")  # a link in the folder, leading out
    images.append({"id": 9, "file_name": "link_out.jpg", "width": 80, "height": 60})
    kp_out = [0.0] * 51
    kp_out[0:3] = [40.0, 30.0, 2]
    kp_out[27:30] = [500.0, 30.0, 2]  # keypoint 9 far right of the 80-pixel image
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20], "iscrowd": 0},
        {"id": 2, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0},
        {"id": 3, "image_id": 3, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0},
        {"id": 4, "image_id": 4, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0},
        {"id": 10, "image_id": 1, "bbox": [10, 10, 5, 5], "iscrowd": 0},  # no category_id
        {"id": 11, "image_id": 999, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0},  # no such image
        {"id": 12, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "keypoints": kp_out, "num_keypoints": 2},
        {"id": 13, "image_id": 2, "category_id": 1, "bbox": [30, 30, -10, 12], "iscrowd": 0},  # negative width
        {"id": 14, "image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1,
         "segmentation": {"size": [60, 80], "counts": [10, 20, 30]}},  # RLE covering 60 of 4800 pixels
        {"id": 15, "image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1,
         "segmentation": {"size": [60, 80], "counts": "\x7f\x7f garbage"}},  # compressed RLE, not ASCII-valid
        {"image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10]},  # no id at all
        {"id": 16, "image_id": 5, "category_id": 1, "bbox": [1, 1, 5, 5]},  # of the entry without file_name
        {"id": 17, "image_id": 6, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 18, "image_id": 7, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0},
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 30, 10, 10], "iscrowd": 0},  # id 1 again
    ]
    (base / "annotations").mkdir()
    cats = [{"id": 1, "name": "person"}]
    images.append({"id": 1, "file_name": "0001_again.jpg", "width": 80, "height": 60})  # image id 1 again
    dup_ann, dup_img = len(anns) - 1, len(images) - 1
    (base / "annotations" / "instances.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    # A second file merged by id, as person_keypoints is with instances: annotation 3 again with the
    # same fields plus keypoints (merged), annotation 2 again with another box (a conflict)
    kp = [0.0] * 51
    kp[0:3] = [10.0, 10.0, 2]
    extra = [{**anns[2], "keypoints": kp, "num_keypoints": 1}, {**anns[1], "bbox": [6, 6, 20, 20]}]
    (base / "annotations" / "keypoints.json").write_text(
        json.dumps({"images": images[:3], "annotations": extra, "categories": cats + [{"id": 1, "name": "human"}]}))
    (base / "annotations" / "no_images.json").write_text(json.dumps({"annotations": [], "categories": cats}))
    (base / "annotations" / "not_json.json").write_text('{"images": [')
    return [
        Kind("coco_control", src, "0001.jpg", "accept", note="control: image with a good box"),
        Kind("coco_image_of_bad_keypoints_and_box", src, "0002.jpg", "accept",
             note="keeps its good box; the bad annotations are rejected on their own"),
        Kind("coco_image_of_bad_rles", src, "0003.jpg", "accept", note="keeps its good box"),
        Kind("coco_missing_category", src, "annotation/10", "reject", "missing_field", note="annotation without category_id"),
        Kind("coco_missing_top_level_field", src, "no_images.json", "reject", "missing_field", note="file has no 'images' list"),
        Kind("coco_not_json", src, "not_json.json", "reject", "bad_coco_file", note="JSON cut short"),
        Kind("coco_annotation_without_id", src, "instances.json:annotations[10]", "reject", "missing_field",
             note="annotation without 'id'"),
        Kind("coco_image_entry_without_file_name", src, "image/5", "reject", "missing_field", note="image entry without file_name"),
        Kind("coco_annotation_of_unusable_entry", src, "annotation/16", "reject", "bad_image_entry",
             note="box on the image entry without file_name"),
        Kind("coco_file_name_escape", src, "../secret.jpg", "reject", "unsafe_path",
             note="file_name climbs out of the images folder"),
        Kind("coco_annotation_of_missing_image", src, "annotation/11", "reject", "unknown_image", note="image_id 999 not listed"),
        Kind("coco_file_name_latin1_byte", src, "caf\\udce9.jpg", "accept",
             note="file_name \\udce9 in the JSON: the file named with byte 0xE9 is read, the record escaped"),
        Kind("coco_file_name_lone_surrogate", src, "\\ud800.jpg", "reject", "unreadable_file",
             note="file_name \\ud800 in the JSON: no file can have that name; rejected alone"),
        Kind("coco_file_name_link_out", src, "link_out.jpg", "reject", "link_outside_input",
             note="file_name names a symlink in the images folder that leads out of it (before: read)"),
        Kind("coco_annotation_of_missing_file", src, "annotation/4", "reject", "image_rejected",
             note="a good box on the image whose file is missing (before: vanished with it)"),
        Kind("coco_annotation_of_escaping_file", src, "annotation/17", "reject", "image_rejected",
             note="a good box on the image whose file_name leaves the folder"),
        Kind("coco_duplicate_annotation_id", src, f"instances.json:annotations[{dup_ann}]", "reject", "duplicate_annotation_id",
             note="annotation id 1 a second time in one file, another box (before: silently overwrote the first)"),
        Kind("coco_duplicate_image_id", src, f"instances.json:images[{dup_img}]", "reject", "duplicate_image_id",
             note="image id 1 a second time, another file_name (before: overwrote the first entry)"),
        Kind("coco_conflicting_annotation_across_files", src, "keypoints.json:annotations[1]", "reject",
             "conflicting_annotation", note="annotation 2 in a second file with another bbox (before: overwrote it)"),
        Kind("coco_conflicting_category", src, "keypoints.json:categories[1]", "reject", "conflicting_category",
             note="category 1 named 'human' after 'person'"),
        Kind("coco_image_file_missing", src, "not_on_disk.jpg", "reject", "unreadable_file", note="listed image, no file"),
        Kind("coco_keypoints_outside", src, "annotation/12", "reject", "keypoint_outside_image", note="visible keypoint at x=500"),
        Kind("coco_negative_box", src, "annotation/13", "reject", "bad_bbox", note="bbox width -10"),
        Kind("coco_rle_short", src, "annotation/14", "reject", "bad_rle", note="RLE counts cover 60 of 4800 pixels"),
        Kind("coco_rle_garbage", src, "annotation/15", "reject", "bad_rle", note="compressed RLE string of junk"),
    ]


def make_paired(base: Path, rng: np.random.Generator) -> list[Kind]:
    src = "pairs"
    base.mkdir(parents=True)
    for name in ("in0.png", "out0.png", "in1.png"):
        picture(rng, 40, 30).save(base / name)
    (base / "out_bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    lines = ["input,output", "in0.png,out0.png", "in1.png,", "in1.png,nope.png", "in0.png,out_bad.png"]
    (base / "pairs.csv").write_text("\n".join(lines) + "\n")
    return [
        Kind("pairs_control", src, "pairs.csv:2", "accept", note="control"),
        Kind("pairs_row_missing_field", src, "pairs.csv:3", "reject", "missing_field", note="CSV row with no output"),
        Kind("pairs_output_missing", src, "pairs.csv:4", "reject", "unreadable_file", note="output file does not exist"),
        Kind("pairs_output_corrupt", src, "pairs.csv:5", "reject", "corrupt_image", note="output PNG truncated"),
    ]


def make_jhmdb(base: Path, rng: np.random.Generator) -> list[Kind]:
    from uvd_pipeline.samples.videos import make_jhmdb

    src = "jhmdb"
    make_jhmdb(base, rng, videos=1, n=4)
    bad = base / "jhmdb" / "joint_positions" / "wave" / "garbled"
    bad.mkdir(parents=True)
    (bad / "joint_positions.mat").write_bytes(b"MATLAB 5.0 MAT-file" + rng.bytes(200))
    frames = base / "jhmdb" / "Frames" / "wave" / "garbled"
    frames.mkdir(parents=True)
    for i in range(4):
        picture(rng, 32, 24).save(frames / f"{i + 1:05d}.png")
    return [
        Kind("jhmdb_control", src, "wave/person_00", "accept", note="control"),
        Kind("jhmdb_garbled_mat", src, "wave/garbled", "reject", "bad_annotation", note="joint_positions.mat of junk"),
        Kind("jhmdb_missing_annotation", src, "wave/no_joints", "reject", "missing_annotation", note="frames, no .mat"),
    ]


def make_dense(base: Path, rng: np.random.Generator) -> list[Kind]:
    src = "dense"
    for sub in ("images", "depth"):
        (base / sub).mkdir(parents=True)
    for stem in ("a", "b", "c"):
        picture(rng, 40, 30).save(base / "images" / f"{stem}.png")
    Image.fromarray((np.arange(1200).reshape(30, 40) + 500).astype(np.uint16)).save(base / "depth" / "a.png")
    np.save(base / "depth" / "c.npy", np.full((30, 40), np.nan, dtype=np.float32)[None, None])  # 4-D
    return [
        Kind("dense_control", src, "a.png", "accept", note="control"),
        Kind("dense_missing_map", src, "b.png", "reject", "missing_map", note="image with no depth map"),
        Kind("dense_bad_map_shape", src, "c.png", "reject", "bad_map", note="depth .npy of 4 dimensions"),
    ]


def make_objaverse(base: Path, rng: np.random.Generator) -> list[Kind]:
    import trimesh

    src = "objaverse"
    cache = base / "hf-objaverse-v1"
    (cache / "glbs" / "000-000").mkdir(parents=True)
    uids = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
    (cache / "glbs" / "000-000" / f"{uids[0]}.glb").write_bytes(glb_bytes(trimesh.creation.box()))
    (cache / "glbs" / "000-000" / f"{uids[1]}.glb").write_bytes(b"glTF\x02\x00\x00\x00" + rng.bytes(100))
    (base / "outside.glb").write_bytes(glb_bytes(trimesh.creation.box()))
    paths = {uids[0]: f"glbs/000-000/{uids[0]}.glb", uids[1]: f"glbs/000-000/{uids[1]}.glb",
             uids[2]: f"glbs/000-000/{uids[2]}.glb", uids[3]: "../outside.glb"}
    (cache / "object-paths.json.gz").write_bytes(gzip.compress(json.dumps(paths).encode(), mtime=0))
    return [
        Kind("objaverse_control", src, uids[0], "accept", note="control"),
        Kind("objaverse_corrupt_glb", src, uids[1], "reject", "unreadable_mesh", note="GLB magic then junk"),
        Kind("objaverse_not_downloaded", src, uids[2], "reject", "not_in_cache", note="listed, file absent"),
        Kind("objaverse_path_escape", src, uids[3], "reject", "unsafe_path", note="cache index points outside the cache"),
    ]


def make_ava(base: Path, rng: np.random.Generator) -> list[Kind]:
    from uvd_pipeline.samples.videos import make_ava

    src = "ava"
    make_ava(base, rng, videos=1, seconds=6, fps=5.0)
    with open(base / "ava" / "annotations.csv", "a", newline="") as f:
        csv.writer(f).writerow(["sample00ava", "3", "0.1", "0.1", "0.5"])  # 5 fields
    lines = (base / "ava" / "annotations.csv").read_text().splitlines()
    n_lines = len(lines)
    first = next(csv.reader([lines[0]]))  # video, t, x1, y1, x2, y2, action, person
    with open(base / "ava" / "annotations.csv", "a", newline="") as f:
        csv.writer(f).writerow(first)  # the same row again
        csv.writer(f).writerow([*first[:2], "0.0", "0.0", "0.05", "0.05", *first[6:]])  # same person and time, another box
    return [
        Kind("ava_control", src, "sample00ava", "accept", note="control"),
        Kind("ava_missing_video", src, "no_such_video", "reject", "missing_video", note="CSV rows for a video not there"),
        Kind("ava_row_not_a_number", src, f"annotations.csv:{n_lines - 1}", "reject", "bad_csv_row", note="timestamp 'three'"),
        Kind("ava_row_too_short", src, f"annotations.csv:{n_lines}", "reject", "bad_csv_row", note="5 fields"),
        Kind("ava_duplicate_row", src, f"annotations.csv:{n_lines + 1}", "reject", "duplicate_annotation",
             note="the first row again: same person, time, box and action"),
        Kind("ava_conflicting_box", src, f"annotations.csv:{n_lines + 2}", "reject", "conflicting_annotation",
             note="the first row's person and time with another box (before: dropped without a word)"),
    ]
