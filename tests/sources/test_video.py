"""Video files: seeded stride/start per video, exact frames, every container, bad files as rejects."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from uvd_pipeline.ids import bytes_id, rng_for  # noqa: E402
from uvd_pipeline.samples.videos import Scene, write_video  # noqa: E402
from uvd_pipeline.sources.video import VideoSource, frame_id, plan_clip  # noqa: E402
from uvd_pipeline.types import Reject  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from .reading import items_by_record, read_all  # noqa: E402
from .videos import assert_follows_stride, bare_read  # noqa: E402

CONTAINERS = [("clip.mp4", "mp4v"), ("clip.avi", "MJPG"), ("clip.webm", "VP80"), ("clip.mkv", "mp4v")]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(3)
    for name, fourcc in CONTAINERS:
        write_video(root / name, fourcc, (f for f, _, _ in Scene(rng, 96, 64).frames(200)))
    (root / "long").mkdir()
    write_video(root / "long" / "long.mp4", "mp4v", (f for f, _, _ in Scene(rng, 64, 48).frames(700)))
    return root


# The source name seeds each clip: the re-planning test draws its clips with "vids" too.
read = partial(read_all, name="vids")
# The behaviour before issue 15 (full-size frames, only strides that fit): the tests below that
# compare frames with a plain decode or check the stride set use it; tests/sources/test_video_lvm.py
# checks the LVM defaults.
PRE_LVM = {"resize": "pil", "short_video": "reject"}


@pytest.mark.parametrize("name", [c[0] for c in CONTAINERS])
def test_sampled_frames_are_the_frames_at_those_indices(videos, name):
    src = VideoSource(path=str(videos), extensions=[name.rsplit(".", 1)[1]], recursive=False, **PRE_LVM)
    (frames,) = items_by_record(read(src)).values()
    reference = bare_read(videos / name)
    assert len(reference) == 200
    first = frames[0].meta
    # 200 frames: only stride 10 fits (16 frames at stride 20 span 301); the start is drawn in [0, 49]
    assert first["stride"] == 10 and 0 <= first["start"] <= 200 - 151
    assert_follows_stride(frames, 16)
    video_id = bytes_id((videos / name).read_bytes())
    for f in frames:
        assert np.array_equal(f.image.pixels, reference[f.meta["frame_index"]])
        assert f.image.id == frame_id(video_id, f.meta["frame_index"])
        assert f.meta["video_id"] == video_id and f.meta["n_frames"] == 200


def test_seeking_to_a_far_start_gives_the_same_frames_as_grabbing(videos):
    path = videos / "long" / "long.mp4"
    grabbed = items_by_record(read(VideoSource(path=str(videos / "long"), seek_threshold=10_000, **PRE_LVM)))["long.mp4"]
    sought = items_by_record(read(VideoSource(path=str(videos / "long"), seek_threshold=1, **PRE_LVM)))["long.mp4"]
    assert [f.meta["frame_index"] for f in grabbed] == [f.meta["frame_index"] for f in sought]
    reference = bare_read(path)
    for a, b in zip(grabbed, sought):
        assert np.array_equal(a.image.pixels, b.image.pixels)
        assert np.array_equal(a.image.pixels, reference[a.meta["frame_index"]])


def test_strides_come_from_the_set_and_only_those_that_fit():
    seen: dict[int, set[int]] = {}
    for n_frames in (151, 300, 301, 451, 700):
        for s in range(60):
            clip = plan_clip(n_frames, 16, [10, 20, 30], rng_for("t", n_frames, s))
            assert clip is not None and clip.span <= n_frames
            assert clip.indices[-1] <= n_frames - 1 and clip.start >= 0
            seen.setdefault(n_frames, set()).add(clip.stride)
    assert seen[151] == {10} and seen[300] == {10} and seen[301] == {10, 20}
    assert seen[451] == seen[700] == {10, 20, 30}
    assert plan_clip(150, 16, [10, 20, 30], rng_for("t")) is None
    starts = {plan_clip(151, 16, [10], rng_for("s", i)).start for i in range(20)}
    assert starts == {0}  # a video exactly one span long has one possible start


def test_the_clip_is_seeded_by_source_seed_and_video_not_by_unit(videos):
    a = items_by_record(read(VideoSource(path=str(videos), unit_size=1)))
    b = items_by_record(read(VideoSource(path=str(videos), unit_size=8)))
    assert a.keys() == b.keys() and len(a) == 5
    for name in a:
        assert [f.image.id for f in a[name]] == [f.image.id for f in b[name]]
    reseeded = items_by_record(read(VideoSource(path=str(videos), seed=1)))
    starts = lambda got: [got[n][0].meta["start"] for n in sorted(got)]  # noqa: E731
    assert starts(reseeded) != starts(a)


def test_too_short_corrupt_and_empty_videos_are_rejects(tmp_path):
    rng = np.random.default_rng(0)
    write_video(tmp_path / "short.mp4", "mp4v", (f for f, _, _ in Scene(rng, 64, 48).frames(150)))
    (tmp_path / "corrupt.mkv").write_bytes(b"\x1aE\xdf\xa3" + bytes(range(256)) * 4)
    (tmp_path / "empty.avi").write_bytes(b"")
    outs = read(VideoSource(path=str(tmp_path), **PRE_LVM))
    assert all(isinstance(o, Reject) for o in outs)
    reasons = {o.record: (o.reason, o.detail) for o in outs}
    assert reasons["short.mp4"] == ("video_too_short", "short.mp4: 150 frames; 16 frames at stride 10 need 151")
    assert reasons["corrupt.mkv"][0] == "unreadable_video"
    assert reasons["empty.avi"][0] == "unreadable_video"
    # With a shorter clip the same video fits: `frames` and `strides` are parameters.
    (items,) = items_by_record(read(VideoSource(path=str(tmp_path), frames=8, strides=[20], **PRE_LVM))).values()
    assert [f.meta["stride"] for f in items] == [20] * 8


def test_a_container_that_over_reports_its_frames_is_replanned_on_the_real_count(videos, tmp_path):
    full = (videos / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(full[: len(full) * 9 // 10])
    cap = cv2.VideoCapture(str(tmp_path / "cut.avi"))
    header_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    decodable = len(bare_read(tmp_path / "cut.avi"))
    assert decodable < header_count == 200
    reference = bare_read(tmp_path / "cut.avi")
    video_id = bytes_id((tmp_path / "cut.avi").read_bytes())
    past_the_cut = 0
    for seed in range(8):
        planned = plan_clip(header_count, 16, [10, 20, 30], rng_for("video_clip", seed, "vids", video_id))
        past_the_cut += planned.indices[-1] >= decodable
        (frames,) = items_by_record(read(VideoSource(path=str(tmp_path), seed=seed, **PRE_LVM))).values()
        assert frames[0].meta["n_frames"] == (decodable if planned.indices[-1] >= decodable else header_count)
        assert frames[-1].meta["frame_index"] < decodable
        assert all(np.array_equal(f.image.pixels, reference[f.meta["frame_index"]]) for f in frames)
    assert past_the_cut > 0  # the re-planning path ran


def test_oversized_frames_are_rejected(videos):
    outs = read(VideoSource(path=str(videos), extensions=["mp4"], recursive=False, max_frame_pixels=100))
    assert [(o.record, o.reason) for o in outs] == [("clip.mp4", "frame_too_large")]


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(VideoSource, tmp_dir=tmp_path, fresh_process=False)


# -- the LVM defaults: cv2.resize at decode, stride shrunk to fit a short video --------------------


def lvm_clip_reference(path, n_frames: int, stride: int, start: int) -> tuple[int, list[np.ndarray]]:
    """The LVM release's `read_frames_from_video`, re-implemented from its documented behaviour:
    the count from CAP_PROP_FRAME_COUNT, stride capped to (count - 1) // (n_frames - 1), each frame
    reached with CAP_PROP_POS_FRAMES, read, `cv2.resize(frame, (256, 256))`, then BGR -> RGB. The
    start is LVM's `np.random.randint`; here it is given, so that the pixels can be compared."""
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    stride = min((total - 1) // (n_frames - 1), stride)
    frames = []
    for index in range(start, start + n_frames * stride, stride):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = cap.read()
        assert ok
        frames.append(cv2.resize(bgr, (256, 256))[..., ::-1])
    cap.release()
    return stride, frames


@pytest.fixture(scope="module")
def short_mp4(tmp_path_factory):
    root = tmp_path_factory.mktemp("short")
    write_video(root / "short.mp4", "mp4v", (f for f, _, _ in Scene(np.random.default_rng(5), 96, 64).frames(100)))
    write_video(root / "tiny.mp4", "mp4v", (f for f, _, _ in Scene(np.random.default_rng(6), 96, 64).frames(15)))
    return root


def test_default_shrinks_the_stride_and_resizes_with_cv2_as_lvm_does(short_mp4):
    """100 frames: no paper stride fits (10 needs 151), LVM caps it to 99 // 15 = 6; the frames are
    the LVM reference's bytes (cv2 bilinear resize), not PIL's resize of the same frames."""
    seen_drawn = set()
    for seed in range(6):
        outs = read(VideoSource(path=str(short_mp4), seed=seed))
        by_record = items_by_record(outs)
        frames = by_record["short.mp4"]
        m = frames[0].meta
        seen_drawn.add(m["stride_drawn"])
        stride, reference = lvm_clip_reference(short_mp4 / "short.mp4", 16, m["stride_drawn"], m["start"])
        assert m["stride"] == stride == 6 and 0 <= m["start"] <= 100 - (15 * 6 + 1)
        assert_follows_stride(frames, 16)
        for got, want in zip(frames, reference):
            assert got.image.pixels.shape == (256, 256, 3)
            assert np.array_equal(got.image.pixels, want)
        # the tiny video cannot hold 16 frames even at stride 1: still a reject, with the reason
        (tiny,) = [o for o in outs if isinstance(o, Reject)]
        assert (tiny.record, tiny.reason, tiny.detail) == (
            "tiny.mp4", "video_too_short", "tiny.mp4: 15 frames; 16 frames at stride 1 need 16",
        )
    assert seen_drawn <= {10, 20, 30} and len(seen_drawn) > 1
    full = bare_read(short_mp4 / "short.mp4")[frames[0].meta["frame_index"]]
    pil = np.asarray(PILImage.fromarray(full).resize((256, 256)))
    assert not np.array_equal(pil, frames[0].image.pixels)  # the option matters: PIL's filter differs


def test_shrink_keeps_strides_that_fit_and_matches_the_lvm_cap_everywhere():
    for n_frames in (16, 17, 46, 100, 151, 300, 451, 700):
        for s in range(30):
            clip = plan_clip(n_frames, 16, [10, 20, 30], rng_for("t", n_frames, s), "shrink_stride")
            assert clip.stride == min(clip.stride_drawn, (n_frames - 1) // 15)
            assert clip.indices[-1] <= n_frames - 1 and clip.start >= 0
    assert plan_clip(15, 16, [10, 20, 30], rng_for("t"), "shrink_stride") is None
    assert plan_clip(16, 16, [10], rng_for("t"), "shrink_stride").indices == list(range(16))


def test_the_stride_used_and_the_stride_drawn_reach_the_provenance(short_mp4):
    from uvd_pipeline.sequencers.video_clip import VideoClipSequencer

    items = items_by_record(read(VideoSource(path=str(short_mp4))))["short.mp4"]
    (seq,) = list(VideoClipSequencer().build(items, np.random.default_rng(0)))
    assert seq.provenance["stride"] == 6 and seq.provenance["stride_drawn"] == items[0].meta["stride_drawn"]
    assert seq.provenance["frame_indices"] == [items[0].meta["start"] + 6 * k for k in range(16)]


def test_resize_pil_keeps_full_size_frames_and_cv2_can_crop_first(short_mp4):
    (full,) = items_by_record(read(VideoSource(path=str(short_mp4), resize="pil"))).values()
    assert full[0].image.pixels.shape == (64, 96, 3)
    (cropped,) = items_by_record(read(VideoSource(path=str(short_mp4), center_crop=True))).values()
    whole = bare_read(short_mp4 / "short.mp4")[cropped[0].meta["frame_index"]]
    want = cv2.resize(np.ascontiguousarray(whole[:, 16:80]), (256, 256))
    assert np.array_equal(cropped[0].image.pixels, want)
