"""A tiny hand-keypoint data set in the CSV layout the source reads, so nothing is downloaded.

    python -m uvd_plugin_example.sample_data data/hands [--images 24] [--seed 0] [--clean]

writes data/hands/images/hand_NNNN.jpg (synthetic hands drawn on varied backgrounds) and
data/hands/hands.csv with each hand's 21 keypoints. Unless --clean, it adds the faults a real
export has: a row naming a missing image, a row with a non-numeric coordinate, a truncated
JPEG and a row with no image name; each must end in the rejects table with its reason.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from uvd_pipeline.ids import bytes_id
from uvd_pipeline.types import Image, Item

from .hand import N_KEYPOINTS, csv_columns

SIZES = ((160, 120), (128, 128), (120, 160), (200, 150))  # (width, height)
SKIN = ((224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172))
FAULTS = {
    "missing_image": "images/hand_missing.jpg",
    "bad_keypoints": "images/hand_bad_coordinate.jpg",
    "corrupt_image": "images/hand_truncated.jpg",
}


def hand_keypoints(rng: np.random.Generator, width: int, height: int, side: str) -> list[list[float]]:
    """21 (x, y) points of an open hand: a wrist, a palm, five fingers of four joints each."""
    scale = min(width, height) * rng.uniform(0.28, 0.38)
    wx, wy = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.7, 0.85)
    up = -math.pi / 2 + rng.uniform(-0.35, 0.35)
    mirror = 1.0 if side == "right" else -1.0
    points = [[wx, wy]]
    spreads = (-1.05, -0.38, -0.1, 0.15, 0.4)  # finger directions around `up`, thumb first
    palm = (0.35, 0.75, 0.78, 0.74, 0.66)  # where each finger leaves the palm (x scale)
    lengths = ((0.25, 0.22, 0.18), (0.3, 0.2, 0.16), (0.33, 0.22, 0.17), (0.3, 0.2, 0.16), (0.24, 0.16, 0.13))
    for f in range(5):
        angle = up + mirror * (spreads[f] + rng.uniform(-0.08, 0.08))
        x, y = wx + math.cos(angle) * palm[f] * scale, wy + math.sin(angle) * palm[f] * scale
        points.append([x, y])
        bend = mirror * rng.uniform(-0.15, 0.15)
        for seg in lengths[f]:
            angle += bend
            x, y = x + math.cos(angle) * seg * scale, y + math.sin(angle) * seg * scale
            points.append([x, y])
    return [[round(px, 2), round(py, 2)] for px, py in points]


def draw_scene(rng: np.random.Generator, width: int, height: int, hands: list[list[list[float]]]) -> PILImage.Image:
    """A blurred two-tone background with each hand drawn as a palm and thick fingers."""
    top, bottom = rng.integers(40, 230, 3), rng.integers(0, 180, 3)
    t = np.linspace(0, 1, height)[:, None, None]
    bg = (top * (1 - t) + bottom * t) * np.ones((1, width, 1)) + rng.normal(0, 5, (height, width, 3))
    img = PILImage.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for pts in hands:
        skin = SKIN[int(rng.integers(len(SKIN)))]
        width_px = max(3, round(min(width, height) / 22))
        palm = [tuple(pts[i]) for i in (0, 1, 5, 9, 13, 17)]
        draw.polygon(palm, fill=skin)
        for f in range(5):
            chain = [tuple(pts[0 if f == 0 else 1 + 4 * f])] + [tuple(pts[1 + 4 * f + j]) for j in range(4)]
            draw.line(chain, fill=skin, width=width_px, joint="curve")
    return img


def make_hand_data(root: str | Path, n_images: int = 24, seed: int = 0, faults: bool = True) -> dict[str, Any]:
    """Write images/ and hands.csv under root; returns counts and the faults it planted."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n_images):
        width, height = SIZES[i % len(SIZES)]
        sides = ["right"] if i % 3 else ["left", "right"]
        hands = [hand_keypoints(rng, width, height, s) for s in sides]
        name = f"images/hand_{i:04d}.jpg"  # relative to the CSV's folder
        draw_scene(rng, width, height, hands).save(root / name, quality=90)
        for side, pts in zip(sides, hands):
            vis = [2 if rng.random() > 0.15 else 1 for _ in range(N_KEYPOINTS)]
            if i % 5 == 4:
                vis[int(rng.integers(1, N_KEYPOINTS))] = 0  # an unlabelled joint
            rows.append(_row(name, side, pts, vis))
    planted = []
    if faults:
        planted = _plant_faults(root, rng, rows)
    with open(root / "hands.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns())
        writer.writeheader()
        writer.writerows(rows)
    return {"images": n_images, "rows": len(rows), "faults": planted}


def _row(name: str, side: str, pts: list[list[float]], vis: list[int]) -> dict[str, Any]:
    row: dict[str, Any] = {"image": name, "hand": side}
    for k, ((x, y), v) in enumerate(zip(pts, vis)):
        row[f"x{k}"], row[f"y{k}"], row[f"v{k}"] = ("", "", 0) if v == 0 else (x, y, v)
    return row


def _plant_faults(root: Path, rng: np.random.Generator, rows: list[dict[str, Any]]) -> list[str]:
    pts = hand_keypoints(rng, 128, 128, "right")
    rows.append(_row(FAULTS["missing_image"], "right", pts, [2] * N_KEYPOINTS))
    draw_scene(rng, 128, 128, [pts]).save(root / FAULTS["bad_keypoints"], quality=90)
    bad = _row(FAULTS["bad_keypoints"], "right", pts, [2] * N_KEYPOINTS)
    bad["x7"] = "n/a"
    rows.append(bad)
    path = root / FAULTS["corrupt_image"]
    draw_scene(rng, 128, 128, [pts]).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:300])
    rows.append(_row(FAULTS["corrupt_image"], "left", pts, [2] * N_KEYPOINTS))
    rows.append(_row("", "right", pts, [2] * N_KEYPOINTS))  # an export bug: no image name
    return sorted(FAULTS) + ["bad_row"]


def example_items(seed: int = 0) -> tuple[list[Item], list[Item]]:
    """In-memory items as the source yields them: (well-formed, malformed annotations)."""
    rng = np.random.default_rng(seed)
    good = []
    for i, (sides, size) in enumerate([(["right"], (160, 120)), (["left", "right"], (128, 128)), ([], (120, 160))]):
        width, height = size
        pts = [hand_keypoints(rng, width, height, s) for s in sides]
        pixels = np.asarray(draw_scene(rng, width, height, pts), dtype=np.uint8)
        hands = [
            {"side": s, "keypoints": [[x, y, 1 if k % 7 == 3 else 2] for k, (x, y) in enumerate(p)]}
            for s, p in zip(sides, pts)
        ]
        meta = {"hands": hands} if sides else {}
        good.append(Item(f"example_{i}.jpg", Image(bytes_id(pixels.tobytes()), pixels), meta))
    base = good[0]
    kps = base.meta["hands"][0]["keypoints"]
    broken = [
        {"hands": [{"side": "right", "keypoints": kps[:20]}]},
        {"hands": [{"side": "right", "keypoints": "abc"}]},
        {"hands": [{"side": "right", "keypoints": [[float("nan"), 1.0, 2]] + kps[1:]}]},
        {"hands": [{"side": "right", "keypoints": [[1.0, 1.0, 3]] + kps[1:]}]},
        {"hands": "right"},
    ]
    bad = [Item(f"broken_{i}.jpg", base.image, meta) for i, meta in enumerate(broken)]
    return good, bad


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder to write images/ and hands.csv into")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clean", action="store_true", help="no planted faults")
    args = parser.parse_args(argv)
    got = make_hand_data(args.root, args.images, args.seed, faults=not args.clean)
    print(f"wrote {got['images']} images and {got['rows']} hand rows to {args.root}; faults: {', '.join(got['faults']) or 'none'}")


if __name__ == "__main__":
    main()
