"""Renderer `hand_skeleton`: an item's hands (meta["hands"]) drawn as 21-point skeletons on black.

OpenPose-style: the 20 bones coloured by a hue ramp (each finger its own band of hues), joints as
dots in the colour of the bone that ends at them, the wrist in white. Line width scales with the
image so the skeleton stays visible after the resize to 256x256. Keypoints with visibility below
`min_visibility`, or outside the image, are not drawn, nor are the bones that touch them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from uvd_pipeline.stages import Renderer
from uvd_pipeline.types import Item

from .hand import BONE_COLOURS, BONES, checked_hands

WRIST_COLOUR = (255, 255, 255)


class HandSkeletonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_visibility: int = Field(default=1, ge=1, le=2, description="1: draw occluded joints too; 2: visible only")
    line_width: int | None = Field(default=None, ge=1, description="pixels; default: the image's short side / 64")


class HandSkeletonRenderer(Renderer):
    Params = HandSkeletonParams
    version = "1"

    def render(self, item: Item) -> np.ndarray | None:
        hands = checked_hands(item.meta, item.record)
        if hands is None:
            return None
        height, width = item.image.pixels.shape[:2]
        canvas = PILImage.new("RGB", (width, height))
        draw = ImageDraw.Draw(canvas)
        line = self.params.line_width or max(1, round(min(width, height) / 64))
        radius = max(1.0, line * 1.2)
        for hand in hands:
            kps = hand["keypoints"]
            shown = [kp[2] >= self.params.min_visibility and 0 <= kp[0] < width and 0 <= kp[1] < height for kp in kps]
            for (a, b), colour in zip(BONES, BONE_COLOURS):
                if shown[a] and shown[b]:
                    draw.line([tuple(kps[a][:2]), tuple(kps[b][:2])], fill=colour, width=line)
            for k, kp in enumerate(kps):
                if shown[k]:
                    colour = WRIST_COLOUR if k == 0 else BONE_COLOURS[k - 1]
                    x, y = kp[0], kp[1]
                    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
        return np.asarray(canvas, dtype=np.uint8)

    @classmethod
    def conformance_example(cls, tmp_dir: Path) -> dict[str, Any]:
        from .sample_data import example_items

        good, bad = example_items()
        return {"items": good, "bad_items": bad}
