"""The sample world's video parts: real files OpenCV reads, the same bytes for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from uvd_pipeline.samples.videos import VIDEO_FILES, make_annotated_videos, make_frame_folders, make_videos  # noqa: E402


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_videos_have_the_frames_they_claim_and_repeat_for_a_seed(tmp_path):
    for run in ("a", "b"):
        make_videos(tmp_path / run, np.random.default_rng(0))
        make_frame_folders(tmp_path / run, np.random.default_rng(1))
        make_annotated_videos(tmp_path / run, np.random.default_rng(2))
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    for name, _, n, (w, h) in VIDEO_FILES:
        cap = cv2.VideoCapture(str(tmp_path / "a" / "videos" / name))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
        assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (w, h)
        cap.release()
    assert not cv2.VideoCapture(str(tmp_path / "a" / "videos" / "corrupt.mp4")).isOpened()
    assert len(list((tmp_path / "a" / "frames" / "dance").glob("*.jpg"))) == 170
