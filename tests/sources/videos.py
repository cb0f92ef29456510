"""Checks shared by the video source tests (video files, AVA, annotated videos): the reference
decode a sampled frame must equal, and the clip layout every sampled clip must follow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uvd_pipeline.types import Item


def bare_read(path: str | Path) -> list[np.ndarray]:
    """Every frame (RGB) by a plain OpenCV read loop: the reference the sampler must match."""
    import cv2  # the tests that call this skip themselves without OpenCV

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def assert_follows_stride(frames: list[Item], length: int) -> None:
    """The clip is `length` frames from its `start`, `stride` apart, as its first frame's meta says."""
    m = frames[0].meta
    assert [f.meta["frame_index"] for f in frames] == [m["start"] + m["stride"] * k for k in range(length)]
