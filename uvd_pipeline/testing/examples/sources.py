"""Conformance examples of the built-in sources: sample files in the real format under tmp_dir,
the params that read them and, where a source has them, bad_params that must end as rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...samples.annotated import make_imagenet, make_paired
from ...samples.captures import make_multiview, make_posetrack
from ...samples.meshes import make_objaverse_cache, toy_robot, vase
from ...samples.videos import Scene, make_ava, make_jhmdb, make_vipseg, write_video
from ...samples.world import make_images, make_webdataset
from .inputs import coco_files, dense_params, write_faulty_tar


def image_folder(tmp_dir: Path) -> dict[str, Any]:
    """The sample images part: JPEG, RGBA / palette / 16-bit PNG, grey JPEG and WebP in three
    subfolders, with a truncated JPEG and a text file named .png (bad_params: their folder)."""
    make_images(tmp_dir, np.random.default_rng(0), n=6)
    base = tmp_dir / "images"
    return {"params": {"path": str(base), "unit_size": 3}, "bad_params": {"path": str(base / "set1")}}


def webdataset(tmp_dir: Path) -> dict[str, Any]:
    """Two sample shards as img2dataset writes them; bad_params: a shard of faulty members."""
    make_webdataset(tmp_dir, np.random.default_rng(0), shards=2, per_shard=3)
    bad = write_faulty_tar(tmp_dir / "faulty" / "00000.tar").parent
    return {"params": {"path": str(tmp_dir / "webdataset")}, "bad_params": {"path": str(bad)}}


def imagenet(tmp_dir: Path) -> dict[str, Any]:
    """Two sample classes of 3 JPEGs; the first class's truncated JPEG sorts after its 3
    good ones, so only bad_params (no max_per_class) reaches it."""
    make_imagenet(tmp_dir, np.random.default_rng(0), classes=2, per_class=3)
    path = str(tmp_dir / "imagenet" / "train")
    return {"params": {"path": path, "classes_per_unit": 1, "max_per_class": 3}, "bad_params": {"path": path}}


def coco(tmp_dir: Path) -> dict[str, Any]:
    """The sample COCO part (instances and keypoints, with its planted bad annotations);
    bad_params reads the keypoints alone, where one visible keypoint lies off its image."""
    f = coco_files(tmp_dir)
    return {
        "params": {"images": f["images"], "annotations": [f["instances"], f["keypoints"]], "images_per_unit": 3},
        "bad_params": {"images": f["images"], "annotations": [f["keypoints"]], "kind": "keypoints"},
    }


def coco_panoptic(tmp_dir: Path) -> dict[str, Any]:
    """The sample panoptic PNGs and JSON (a segment of unknown category, an annotation of a
    missing image); bad_params gives the instances JSON, which has no segments_info."""
    f = coco_files(tmp_dir)
    params = {"images": f["images"], "panoptic": f["panoptic"], "masks": f["masks"], "images_per_unit": 3}
    return {"params": params, "bad_params": {**params, "panoptic": f["instances"]}}


def dense_maps(tmp_dir: Path) -> dict[str, Any]:
    """Three sample scenes with depth (16-bit PNG / .npy), normals, edges and segmentation;
    the last one lacks its depth map (missing_map), which bad_params asks for alone."""
    params = dense_params(tmp_dir)
    return {
        "params": {**params, "unit_size": 2},
        "bad_params": {"images": params["images"], "maps": {"depth": params["maps"]["depth"]}},
    }


def paired(tmp_dir: Path) -> dict[str, Any]:
    """The sample rainy -> clean folders (3 pairs and an input without partner); bad_params
    reads its pairs.csv, whose rows name missing files or leave the output empty."""
    make_paired(tmp_dir, np.random.default_rng(0), n=3)
    base = tmp_dir / "paired"
    return {
        "params": {"input": str(base / "rainy"), "output": str(base / "clean"), "unit_size": 2},
        "bad_params": {"pairs_file": str(base / "pairs.csv")},
    }


def video(tmp_dir: Path) -> dict[str, Any]:
    """A 40-frame MP4, a 6-frame AVI (strides 3 and 5 shrink to 1 for it) and a 3-frame AVI (too
    short for a clip of 4 even at stride 1)."""
    rng = np.random.default_rng(0)
    write_video(tmp_dir / "clip.mp4", "mp4v", (f for f, _, _ in Scene(rng, 48, 32).frames(40)))
    write_video(tmp_dir / "short.avi", "MJPG", (f for f, _, _ in Scene(rng, 48, 32).frames(6)))
    write_video(tmp_dir / "tiny.avi", "MJPG", (f for f, _, _ in Scene(rng, 48, 32).frames(3)))
    return {"params": {"path": str(tmp_dir), "frames": 4, "strides": [3, 5]}}


def frame_folder(tmp_dir: Path) -> dict[str, Any]:
    """Two folders of numbered PNG frames, 12 and 3 long (the 3 cannot hold a clip of 4)."""
    from PIL import Image as PILImage

    for name, n in (("walk", 12), ("blink", 3)):
        (tmp_dir / name).mkdir(parents=True, exist_ok=True)
        for i, (frame, _, _) in enumerate(Scene(np.random.default_rng(n), 40, 30).frames(n), start=1):
            PILImage.fromarray(frame).save(tmp_dir / name / f"{i:06d}.png")
    return {"params": {"path": str(tmp_dir), "frames": 4, "strides": [2, 3]}}


def meshes(tmp_dir: Path) -> dict[str, Any]:
    """A GLB robot and an OBJ vase, rendered small."""
    rng = np.random.default_rng(0)
    (tmp_dir / "robot.glb").write_bytes(toy_robot(rng).export(file_type="glb"))
    vase(rng).export(tmp_dir / "vase.obj")
    return {"params": {"path": str(tmp_dir), "size": 32, "sequence_length": 4}}


def objaverse(tmp_dir: Path) -> dict[str, Any]:
    """A local Objaverse cache laid out as the objaverse package writes it."""
    make_objaverse_cache(tmp_dir, np.random.default_rng(0))
    cache = tmp_dir / "objaverse" / "hf-objaverse-v1"
    return {"params": {"cache_dir": str(cache), "size": 32, "sequence_length": 4}}


def vipseg_video(tmp_dir: Path) -> dict[str, Any]:
    make_vipseg(tmp_dir, np.random.default_rng(0), videos=1, n=6)
    return {"params": {"path": str(tmp_dir / "vipseg"), "frames": 3, "strides": [1]}}


def jhmdb_video(tmp_dir: Path) -> dict[str, Any]:
    make_jhmdb(tmp_dir, np.random.default_rng(0), videos=1, n=6)
    return {"params": {"path": str(tmp_dir / "jhmdb"), "frames": 3, "strides": [1]}}


def ava_video(tmp_dir: Path) -> dict[str, Any]:
    make_ava(tmp_dir, np.random.default_rng(0), videos=1, seconds=6, fps=5.0)
    ava = tmp_dir / "ava"
    return {"params": {"path": str(ava / "videos"), "annotations": str(ava / "annotations.csv"), "frames": 3}}


def posetrack_video(tmp_dir: Path) -> dict[str, Any]:
    """The sample PoseTrack 2018 part: two labelled videos and one whose keypoint lists are a joint
    short (bad_annotation)."""
    make_posetrack(tmp_dir, np.random.default_rng(0))
    return {"params": {"path": str(tmp_dir / "posetrack"), "frames": 4, "strides": [1, 2], "unit_size": 2}}


def multiview_capture(tmp_dir: Path) -> dict[str, Any]:
    """The sample CO3D-layout part: two categories, one capture too short, one lacking masks."""
    make_multiview(tmp_dir, np.random.default_rng(0))
    return {"params": {"path": str(tmp_dir / "multiview"), "captures_per_unit": 2}}


EXAMPLES = {
    "image_folder": image_folder,
    "webdataset": webdataset,
    "imagenet": imagenet,
    "coco": coco,
    "coco_panoptic": coco_panoptic,
    "dense_maps": dense_maps,
    "paired": paired,
    "video": video,
    "frame_folder": frame_folder,
    "meshes": meshes,
    "objaverse": objaverse,
    "vipseg_video": vipseg_video,
    "jhmdb_video": jhmdb_video,
    "ava_video": ava_video,
    "posetrack_video": posetrack_video,
    "multiview_capture": multiview_capture,
}
