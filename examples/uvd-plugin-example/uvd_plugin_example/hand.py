"""The 21-point hand: keypoint order, bones, colours, and the checks a hand annotation must pass.

Keypoint order is the one OpenPose and COCO-WholeBody use: 0 wrist, then four points per finger
from the palm outwards — thumb 1-4 (CMC, MCP, IP, tip), index 5-8, middle 9-12, ring 13-16,
little 17-20. Visibility follows COCO: 0 not labelled, 1 labelled but occluded, 2 visible.
"""

from __future__ import annotations

import colorsys
import math
from typing import Any

from uvd_pipeline.errors import BadInput

N_KEYPOINTS = 21
FINGERS = ("thumb", "index", "middle", "ring", "little")
KEYPOINT_NAMES = ("wrist",) + tuple(
    f"{finger}_{joint}"
    for finger, joints in zip(FINGERS, [("cmc", "mcp", "ip", "tip")] + [("mcp", "pip", "dip", "tip")] * 4)
    for joint in joints
)
# Each finger is a chain wrist -> 4 joints: 20 bones in all.
BONES = tuple((0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4))
# OpenPose-style colours: a hue ramp over the 20 bones, so each finger has its own band of hues.
BONE_COLOURS = tuple(
    tuple(round(255 * c) for c in colorsys.hsv_to_rgb(i / len(BONES), 1.0, 1.0)) for i in range(len(BONES))
)
SIDES = ("left", "right")
VISIBILITY = (0, 1, 2)


def csv_columns() -> list[str]:
    """The CSV header: image, hand, then x, y, v for each of the 21 keypoints."""
    return ["image", "hand"] + [f"{axis}{k}" for k in range(N_KEYPOINTS) for axis in ("x", "y", "v")]


def parse_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    """One CSV row (csv.DictReader) -> {"side", "keypoints": [[x, y, v] x 21]}; BadInput names the field."""
    side = (row.get("hand") or "").strip().lower()
    if side not in SIDES:
        raise BadInput("bad_keypoints", f"{where}: hand = {row.get('hand')!r}, expected left or right")
    keypoints = []
    for k in range(N_KEYPOINTS):
        v = _number(row, f"v{k}", where)
        if v not in VISIBILITY:
            raise BadInput("bad_keypoints", f"{where}: v{k} = {row.get(f'v{k}')!r}, expected 0, 1 or 2")
        if v == 0:
            keypoints.append([0.0, 0.0, 0])
            continue
        x, y = _number(row, f"x{k}", where), _number(row, f"y{k}", where)
        keypoints.append([x, y, int(v)])
    return {"side": side, "keypoints": keypoints}


def _number(row: dict[str, Any], column: str, where: str) -> float:
    raw = row.get(column)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise BadInput("bad_keypoints", f"{where}: {column} = {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise BadInput("bad_keypoints", f"{where}: {column} = {raw!r} is not finite")
    return value


def checked_hands(meta: dict[str, Any], where: str) -> list[dict[str, Any]] | None:
    """meta["hands"] validated for drawing; None when the item has no hand annotation at all."""
    hands = meta.get("hands")
    if hands is None:
        return None
    if not isinstance(hands, list):
        raise BadInput("bad_keypoints", f"{where}: meta['hands'] must be a list, got {type(hands).__name__}")
    for h, hand in enumerate(hands):
        kps = hand.get("keypoints") if isinstance(hand, dict) else None
        if not isinstance(kps, list) or len(kps) != N_KEYPOINTS:
            got = len(kps) if isinstance(kps, list) else type(kps).__name__
            raise BadInput("bad_keypoints", f"{where}: hand {h} needs {N_KEYPOINTS} keypoints, got {got}")
        for k, kp in enumerate(kps):
            ok = isinstance(kp, list) and len(kp) == 3 and all(_finite(c) for c in kp) and kp[2] in VISIBILITY
            if not ok:
                raise BadInput("bad_keypoints", f"{where}: hand {h} keypoint {k} = {kp!r}, expected [x, y, v in 0/1/2]")
    return hands


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
