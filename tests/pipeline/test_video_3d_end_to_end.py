"""A small recipe of video, frame-folder, annotated-video and mesh sources through run_recipe (local):
16 images of 256x256 per sequence, frame indices in the manifest that follow the stride, orbit views
15 degrees apart, and every input either in a sequence or in the rejects table."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cv2")
trimesh = pytest.importorskip("trimesh")
pytest.importorskip("pyrender")

from uvd_pipeline.engines import run_recipe  # noqa: E402
from uvd_pipeline.ids import bytes_id  # noqa: E402
from uvd_pipeline.manifests import open_dataset, verify_dataset  # noqa: E402
from uvd_pipeline.recipe import parse_recipe  # noqa: E402
from uvd_pipeline.samples.meshes import toy_robot  # noqa: E402
from uvd_pipeline.samples.videos import Scene, make_jhmdb, make_vipseg, write_video  # noqa: E402
from uvd_pipeline.sources.video import frame_id  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(11)
    (root / "videos").mkdir()
    write_video(root / "videos" / "long.mp4", "mp4v", (f for f, _, _ in Scene(rng, 64, 48).frames(320)))
    # 12 frames: too short for 16 even at stride 1 (a shorter stride than drawn would fit 16 frames
    # into 16..150 frames: sources/video.py `short_video`)
    write_video(root / "videos" / "short.avi", "MJPG", (f for f, _, _ in Scene(rng, 64, 48).frames(12)))
    (root / "frames" / "clip").mkdir(parents=True)
    from PIL import Image

    for i, (f, _, _) in enumerate(Scene(rng, 48, 48).frames(155), start=1):
        Image.fromarray(f).save(root / "frames" / "clip" / f"{i:06d}.jpg")
    make_vipseg(root, rng, videos=1, n=10)
    make_jhmdb(root, rng, videos=1, n=12)
    (root / "meshes").mkdir()
    (root / "meshes" / "robot.glb").write_bytes(toy_robot(rng).export(file_type="glb"))
    (root / "meshes" / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00 not really")
    recipe = parse_recipe(
        {
            "name": "video3d",
            "seed": 0,
            "tokenizer": {"preset": "tiny", "batch_size": 16},
            "sources": [
                {
                    "name": "videos",
                    "plugin": "video",
                    "params": {"path": str(root / "videos")},
                    "category": "unlabelled_videos",
                    "task": "video",
                    "sequencer": {"plugin": "video_clip"},
                },
                {
                    "name": "frames",
                    "plugin": "frame_folder",
                    "params": {"path": str(root / "frames")},
                    "category": "unlabelled_videos",
                    "task": "video",
                    "sequencer": {"plugin": "video_clip"},
                },
                {
                    "name": "vipseg",
                    "plugin": "vipseg_video",
                    "params": {"path": str(root / "vipseg")},
                    "category": "annotated_videos",
                    "task": "video_segmentation",
                    "renderers": [{"plugin": "segmentation_map"}],
                    "sequencer": {"plugin": "annotated_video"},
                },
                {
                    "name": "jhmdb",
                    "plugin": "jhmdb_video",
                    "params": {"path": str(root / "jhmdb")},
                    "category": "annotated_videos",
                    "task": "video_pose",
                    "renderers": [{"plugin": "openpose"}],
                    "sequencer": {"plugin": "annotated_video", "params": {"order": "grouped"}},
                },
                {
                    "name": "meshes",
                    "plugin": "meshes",
                    "params": {"path": str(root / "meshes")},
                    "category": "synthetic_3d",
                    "task": "orbit",
                    "sequencer": {"plugin": "orbit"},
                    "test_fraction": 0.16,
                },
            ],
        }
    )
    out = tmp_path_factory.mktemp("out")
    summary = run_recipe(recipe, str(out), engine="local", quiet=True)
    return root, out, summary


def rows(out):
    ds = open_dataset(str(out))
    return ds.manifest.to_pylist(), ds.rejects().to_pylist()


def test_every_unit_commits_and_the_output_verifies(built):
    _, out, summary = built
    assert summary.failures == [] and summary.committed == summary.planned == 5
    assert verify_dataset(str(out)) == []


def test_each_source_makes_sixteen_image_sequences_of_256(built):
    _, out, _ = built
    manifest, _ = rows(out)
    assert sorted(r["source"] for r in manifest) == ["frames", "jhmdb", "meshes", "videos", "vipseg"]
    ds = open_dataset(str(out))
    for r in manifest:
        assert r["n_images"] == 16 and r["n_tokens"] == 16 * 256
        assert ds.tokens(r["sequence_id"]).shape == (16 * 256,)


def test_video_frame_indices_in_the_manifest_follow_the_stride(built):
    root, out, _ = built
    manifest, _ = rows(out)
    for r in manifest:
        if r["source"] not in ("videos", "frames"):
            continue
        prov = json.loads(r["provenance"])
        assert prov["stride"] in (10, 20, 30)
        assert prov["frame_indices"] == [prov["start"] + prov["stride"] * k for k in range(16)]
        if r["source"] == "videos":
            video_id = bytes_id((root / "videos" / "long.mp4").read_bytes())
            assert r["image_ids"] == [frame_id(video_id, i) for i in prov["frame_indices"]]
            assert prov["frame_indices"][-1] < 320
    annotated = {r["source"]: json.loads(r["provenance"]) for r in manifest if r["category"] == "annotated_videos"}
    assert annotated["vipseg"]["order"] == "interleaved" and annotated["jhmdb"]["order"] == "grouped"
    for prov in annotated.values():
        assert prov["frame_indices"] == [prov["start"] + prov["stride"] * k for k in range(8)]


def test_orbit_sequences_step_fifteen_degrees_and_split_by_object(built):
    _, out, _ = built
    manifest, _ = rows(out)
    (orbit,) = [r for r in manifest if r["source"] == "meshes"]
    prov = json.loads(orbit["provenance"])
    assert prov["object"] == "robot" and 1.5 <= prov["radius"] <= 2.2 and -45 <= prov["elevation_deg"] <= 45
    assert [(b - a) % 360 for a, b in zip(prov["azimuths_deg"], prov["azimuths_deg"][1:])] == [15.0] * 15
    from uvd_pipeline.ids import unit_fraction

    assert orbit["split"] == ("test" if unit_fraction("split", "meshes", "robot") < 0.16 else "train")


def test_every_input_is_in_a_sequence_or_a_reject_with_its_reason(built):
    _, out, summary = built
    manifest, rejects = rows(out)
    used = {(r["source"], rec) for r in manifest for rec in r["records"]}
    assert used == {
        ("videos", "long.mp4"),
        ("frames", "clip"),
        ("vipseg", "001_clip"),
        ("jhmdb", "wave/person_00"),
        ("meshes", "robot.glb"),
    }
    got = {(r["source"], r["record"], r["reason"]) for r in rejects}
    assert got == {
        ("videos", "short.avi", "video_too_short"),
        ("meshes", "broken.glb", "unreadable_mesh"),
        ("vipseg", "003_broken_mask", "corrupt_image"),
        ("vipseg", "003_broken_mask", "broken_clip"),
        ("jhmdb", "wave/no_joints", "missing_annotation"),
    }
    totals = summary.dataset["totals"]
    assert totals["records_read"] == 9 and totals["records_used"] == 5  # 4 records rejected
