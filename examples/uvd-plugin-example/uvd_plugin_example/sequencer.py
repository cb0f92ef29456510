"""Sequencer `hand_pose_pairs`: (image, hand skeleton) pairs, 8 pairs -> one 16-image sequence.

The paper's rule for annotated images: every annotation is an image, and 8 pairs of one
annotation type make a visual sentence. Items are shuffled with the unit's rng, so which images
share a sentence is random but fixed by the recipe seed. A unit's last sentence may hold fewer
pairs (at least `min_pairs`); items without the skeleton view are rejected with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from uvd_pipeline.stages import Sequencer
from uvd_pipeline.types import Item, Reject, VisualSequence


class HandPosePairsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: str = Field(default="hand_skeleton", description="the renderer whose drawing pairs with each image")
    pairs: int = Field(default=8, ge=1, le=8, description="pairs per sequence (8 -> 16 images)")
    min_pairs: int = Field(default=1, ge=1, le=8, description="a shorter last sequence needs at least this many")

    @model_validator(mode="after")
    def _min_le_pairs(self) -> HandPosePairsParams:
        if self.min_pairs > self.pairs:
            raise ValueError(f"min_pairs ({self.min_pairs}) cannot exceed pairs ({self.pairs})")
        return self


class HandPosePairsSequencer(Sequencer):
    Params = HandPosePairsParams
    version = "1"

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        view = self.params.view
        usable = []
        for item in items:
            if view in item.views:
                usable.append(item)
            else:
                yield Reject(item.record, "no_hand_view", f"no {view!r} view: the item has no hand annotation")
        order = [usable[i] for i in rng.permutation(len(usable))]
        step = self.params.pairs
        for start in range(0, len(order), step):
            group = order[start : start + step]
            if len(group) < self.params.min_pairs:
                for item in group:
                    yield Reject(item.record, "incomplete_sequence", f"{len(group)} pairs left, min_pairs is {self.params.min_pairs}")
                continue
            images = [im for item in group for im in (item.image, item.views[view])]
            yield VisualSequence(
                images=images,
                task="",  # the recipe's task names it
                records=[item.record for item in group],
                provenance={"pairs": len(group), "view": view},
                split_key=group[0].image.id,
            )

    @classmethod
    def conformance_example(cls, tmp_dir: Path) -> dict[str, Any]:
        from uvd_pipeline.testing import sample_items

        return {
            "params": {"pairs": 2},
            "items": sample_items(5, view_names=("hand_skeleton",)),
            "bad_items": sample_items(2, seed=1, view_names=()),
        }
