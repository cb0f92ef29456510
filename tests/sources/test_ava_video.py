"""AVA: keyframes decoded from the video with the CSV's people as pixel boxes for the boxes renderer;
malformed rows, missing videos and timestamps past the end as rejects."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from uvd_pipeline.renderers.boxes import BoxesRenderer  # noqa: E402
from uvd_pipeline.samples.videos import make_ava  # noqa: E402
from uvd_pipeline.sources.ava_video import AvaVideoSource, parse_ava_rows  # noqa: E402
from uvd_pipeline.types import Reject  # noqa: E402

from .reading import items_by_record, read_all  # noqa: E402
from .videos import assert_follows_stride, bare_read  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ava")
    make_ava(root, np.random.default_rng(7))
    return root


def test_ava_keyframes_are_decoded_with_their_people_as_pixel_boxes(world):
    src = AvaVideoSource(path=str(world / "ava" / "videos"), annotations=str(world / "ava" / "annotations.csv"))
    outs = read_all(src)
    got = items_by_record(outs)
    assert sorted(got) == ["sample00ava", "sample01ava"]
    rows, _ = parse_ava_rows((world / "ava" / "annotations.csv").read_text(), "annotations.csv")
    renderer = BoxesRenderer()
    for video, frames in got.items():
        assert_follows_stride(frames, 8)
        cap = cv2.VideoCapture(str(world / "ava" / "videos" / f"{video}.mp4"))
        fps = cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        reference = bare_read(world / "ava" / "videos" / f"{video}.mp4")
        for f in frames:
            t = f.meta["timestamp"]
            assert f.meta["frame"] == round(t * fps)
            assert np.array_equal(f.image.pixels, reference[f.meta["frame"]])
            h, w = f.image.pixels.shape[:2]
            anns = {a["person_id"]: a for a in f.meta["annotations"]}
            assert sorted(anns) == sorted(rows[video][t])
            x1, y1, x2, y2 = rows[video][t][0]["box"]
            assert np.allclose(anns[0]["bbox"], [x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h])
            assert anns[0]["actions"] == [12, 79] and anns[0]["category_id"] == 12  # one box, two actions
            assert not np.array_equal(renderer.render(f), f.image.pixels)
    rejects = {o.record: o.reason for o in outs if isinstance(o, Reject)}
    assert rejects == {"no_such_video": "missing_video", "annotations.csv:" + str(_bad_line(world)): "bad_csv_row"}


def _bad_line(world) -> int:
    lines = (world / "ava" / "annotations.csv").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if ",three," in line)


def test_ava_time_offset_and_too_few_keyframes(world):
    # Timestamps past the video's end (an offset in the wrong direction) end as rejects, not crashes.
    late = read_all(
        AvaVideoSource(
            path=str(world / "ava" / "videos"), annotations=str(world / "ava" / "annotations.csv"), time_offset=-100.0
        )
    )
    assert {o.reason for o in late if isinstance(o, Reject) and o.record.startswith("sample")} == {"keyframe_past_end"}
    short = read_all(
        AvaVideoSource(
            path=str(world / "ava" / "videos"), annotations=str(world / "ava" / "annotations.csv"), strides=[2]
        )
    )
    too_short = [o for o in short if isinstance(o, Reject) and o.reason == "video_too_short"]
    assert len(too_short) == 2 and "10 annotated frames; 8 frames at stride 2 need 15" in too_short[0].detail


def test_a_file_the_csv_reader_cannot_parse_is_refused_when_planning(tmp_path, world):
    (tmp_path / "bad.csv").write_text("sample00ava,2," + "x" * 200_000 + "\n")  # over csv's field limit
    with pytest.raises(ValueError, match="bad.csv: not a CSV file"):
        AvaVideoSource(path=str(world / "ava" / "videos"), annotations=str(tmp_path / "bad.csv")).units()
    (tmp_path / "nul.csv").write_bytes(b"sample00ava,3,0.1,0.1\x00,0.5,0.5,12,0\n")
    outs = read_all(AvaVideoSource(path=str(world / "ava" / "videos"), annotations=str(tmp_path / "nul.csv")))
    assert [(o.record, o.reason) for o in outs] == [("nul.csv:1", "bad_csv_row")]


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(AvaVideoSource, tmp_dir=tmp_path, fresh_process=False)


def test_repeated_and_conflicting_rows_are_rejected_never_merged_over():
    text = "\n".join([
        "v,3,0.1,0.1,0.5,0.5,12,0",
        "v,3,0.1,0.1,0.5,0.5,79,0",  # the same person doing a second thing: merged
        "v,3,0.1,0.1,0.5,0.5,12,0",  # the same row again
        "v,3,0.2,0.2,0.6,0.6,12,0",  # person 0 at t=3 with another box
        "v,3,0.1,0.1,0.5,0.5,12",  # no person column: two people told apart by their boxes
        "v,3,0.6,0.6,0.9,0.9,12",
    ]) + "\n"
    videos, bad = parse_ava_rows(text, "a.csv")
    people = videos["v"][3.0]
    assert people[0] == {"box": [0.1, 0.1, 0.5, 0.5], "actions": [12, 79]}
    assert people[-1]["box"] == [0.1, 0.1, 0.5, 0.5] and people[-2]["box"] == [0.6, 0.6, 0.9, 0.9]
    assert [(b["record"], b["reason"]) for b in bad] == [
        ("a.csv:3", "duplicate_annotation"), ("a.csv:4", "conflicting_annotation")]
    assert "box [0.2, 0.2, 0.6, 0.6], an earlier row gives [0.1, 0.1, 0.5, 0.5]" in bad[1]["detail"]
