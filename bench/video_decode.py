"""Benchmark: the stride sampler (sources/video.py) against a bare OpenCV read loop on the same file.

One generated MP4 (mp4v, OpenCV's encoder). Timed side by side, alternating, several rounds:

- bare loop, whole file: `cap.read()` on every frame (decode + BGR conversion + copy);
- bare loop, one clip: `cap.read()` on every frame up to the clip's last frame, keeping 16 (what a
  sampler without grab/seek costs);
- stride sampler, one clip: `decode_frames` (grab between sampled frames, read the 16);
- stride sampler + seek: the same clip with a seek to its start (`seek_threshold` 1).

Reported: medians of seconds, frames passed over per second, and the ratios bare-clip / sampler.
Usage: python bench/video_decode.py [--frames 600] [--width 640 --height 360] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine  # noqa: E402

from uvd_pipeline.samples.videos import Scene, write_video  # noqa: E402
from uvd_pipeline.sources.video import Clip, decode_frames  # noqa: E402


def bare_read(path: str, last: int | None = None, keep: set[int] | None = None) -> int:
    """Read frames with cap.read() up to `last` (or the end); returns frames read."""
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    n = 0
    kept = []
    while last is None or n <= last:
        ok, frame = cap.read()
        if not ok:
            break
        if keep is not None and n in keep:
            kept.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        n += 1
    cap.release()
    return n


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--stride", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    clip = Clip(start=args.frames - 1 - 15 * args.stride - 40, stride=args.stride, length=16)
    if clip.start < 0:
        raise SystemExit(f"--frames {args.frames} is too short for 16 frames at stride {args.stride}")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.mp4")
        rng = np.random.default_rng(0)
        write_video(Path(path), "mp4v", (f for f, _, _ in Scene(rng, args.width, args.height, 4).frames(args.frames)))
        keep = set(clip.indices)
        last = clip.indices[-1]
        cases = {
            "bare_whole_file": lambda: bare_read(path),
            "bare_clip": lambda: bare_read(path, last, keep),
            "sampler_clip": lambda: decode_frames(path, clip.indices, 10**9),
            "sampler_clip_seek": lambda: decode_frames(path, clip.indices, 1),
        }
        for fn in cases.values():  # warm caches and imports
            fn()
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                times[name].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    frames_passed = {
        "bare_whole_file": args.frames,
        "bare_clip": last + 1,
        "sampler_clip": last + 1,
        "sampler_clip_seek": last + 1,
    }
    result = {
        "machine": machine(),
        "date": date.today().isoformat(),
        "load_average": load_average(),
        "video": f"{args.width}x{args.height} mp4v, {args.frames} frames",
        "clip": {"start": clip.start, "stride": clip.stride, "last": last},
        "rounds": args.rounds,
        "median_seconds": {k: round(v, 4) for k, v in med.items()},
        "frames_passed_per_s": {k: round(frames_passed[k] / med[k], 1) for k in med},
        "ratio_bare_clip_over_sampler": round(med["bare_clip"] / med["sampler_clip"], 3),
        "ratio_bare_clip_over_sampler_seek": round(med["bare_clip"] / med["sampler_clip_seek"], 3),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
