"""One image with k aligned annotations: shots of m elements concatenated to at most 16 images.

Each item gives a (1 + k)-tuple (its image and its views, e.g. image, normals, edges, depth,
segmentation). Per sequence one random task order is drawn: m of the `modalities` (all of them by
default) in a random order, used by every shot of that sequence; `shots` items follow each other
(default: as many as fit in 16 images, so the LVM code's 5 modalities x 3 shots = 15 images).
Items lacking a modality are rejected as "missing_view"; a tail of fewer than `min_shots` items
(default: `shots`) is rejected as "incomplete_sequence".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages import Sequencer
from ..types import MAX_IMAGES_PER_SEQUENCE, Image, Item, Reject, VisualSequence

IMAGE = "image"


class KTupleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modalities: list[str] = Field(min_length=1, description="view names; 'image' is the item's own image")
    elements_per_shot: int | None = Field(default=None, ge=1, description="m; default: all modalities")
    shots: int | None = Field(default=None, ge=1, description="items per sequence; default: 16 // m")
    min_shots: int | None = Field(default=None, ge=1, description="shortest last sequence; default: shots")
    shuffle: bool = True

    @model_validator(mode="after")
    def _sizes(self) -> KTupleParams:
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities repeats a name: {self.modalities}")
        m = self.m
        if m > len(self.modalities):
            raise ValueError(f"elements_per_shot ({m}) exceeds the {len(self.modalities)} modalities")
        if m > MAX_IMAGES_PER_SEQUENCE:
            raise ValueError(f"a shot of {m} elements does not fit in {MAX_IMAGES_PER_SEQUENCE} images")
        if self.n_shots * m > MAX_IMAGES_PER_SEQUENCE:
            raise ValueError(f"{self.n_shots} shots x {m} elements exceed {MAX_IMAGES_PER_SEQUENCE} images")
        if self.min_shots is not None and self.min_shots > self.n_shots:
            raise ValueError(f"min_shots ({self.min_shots}) cannot exceed shots ({self.n_shots})")
        return self

    @property
    def m(self) -> int:
        return self.elements_per_shot or len(self.modalities)

    @property
    def n_shots(self) -> int:
        return self.shots or MAX_IMAGES_PER_SEQUENCE // self.m


def element(item: Item, name: str) -> Image:
    return item.image if name == IMAGE else item.views[name]


class KTupleSequencer(Sequencer):
    Params = KTupleParams

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """`n_shots` items of `m` elements per sequence; a remainder of at least `min_shots` makes
        a shorter last sequence. Exact when every record has every modality."""
        p = self.params
        full, rest = divmod(n_records, p.n_shots)
        extra = 1 if rest and rest >= (p.min_shots or p.n_shots) else 0
        return full + extra, p.m * (full * p.n_shots + (rest if extra else 0))

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        p = self.params
        usable = []
        for item in items:
            missing = [m for m in p.modalities if m != IMAGE and m not in item.views]
            if missing:
                yield Reject(item.record, "missing_view", f"no view {missing}; the item has {sorted(item.views) or 'none'}")
            else:
                usable.append(item)
        if p.shuffle:
            usable = [usable[i] for i in rng.permutation(len(usable))]
        shots, min_shots = p.n_shots, p.min_shots or p.n_shots
        for start in range(0, len(usable), shots):
            run = usable[start : start + shots]
            if len(run) < min_shots:
                for item in run:
                    yield Reject(item.record, "incomplete_sequence",
                                 f"{len(run)} item(s) left over in this unit; a sequence needs {min_shots} shots")
                continue
            order = [p.modalities[i] for i in rng.permutation(len(p.modalities))[: p.m]]
            yield VisualSequence(
                images=[element(item, name) for item in run for name in order],
                task="",
                records=[item.record for item in run],
                provenance={"order": order, "shots": len(run)},
                split_key=run[0].image.id,
            )
