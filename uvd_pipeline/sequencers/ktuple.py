"""One image with k aligned annotations: shots of m elements concatenated to at most 16 images.

Each item gives a (1 + k)-tuple (its image and its views, e.g. image, normals, edges, depth,
segmentation). Per sequence one random task order is drawn: m of the `modalities` (all of them by
default) in a random order, used by every shot of that sequence; `shots` items follow each other
(default: as many as fit in 16 images, so the LVM code's 5 modalities x 3 shots = 15 images).
Items lacking a modality are rejected as "missing_view"; a tail of fewer than `min_shots` items
(default: `shots`) makes no sequence.

`epochs` repeats this as the LVM script does (5 epochs there; 1, a single pass, by default): each
pass is a fresh seeded permutation of the unit's items into sequences, each sequence with its own
random task order, so with `epochs: 5` every item appears in five sequences with other partners,
never twice in one sequence. An item left in the tail of every pass is rejected as
"incomplete_sequence".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages import Sequencer
from .epochs import EPOCHS_FIELD, epoch_runs, predict_epochs
from ..types import MAX_IMAGES_PER_SEQUENCE, Image, Item, Reject, VisualSequence

IMAGE = "image"


class KTupleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modalities: list[str] = Field(min_length=1, description="view names; 'image' is the item's own image")
    elements_per_shot: int | None = Field(default=None, ge=1, description="m; default: all modalities")
    shots: int | None = Field(default=None, ge=1, description="items per sequence; default: 16 // m")
    min_shots: int | None = Field(default=None, ge=1, description="shortest last sequence; default: shots")
    shuffle: bool = True
    epochs: int = EPOCHS_FIELD

    @model_validator(mode="after")
    def _sizes(self) -> KTupleParams:
        if self.epochs > 1 and not self.shuffle:
            raise ValueError(f"epochs ({self.epochs}) needs shuffle: true (unshuffled passes repeat the same groups)")
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
        a shorter last sequence; `epochs` passes. Exact when every record has every modality."""
        p = self.params
        sequences, used = predict_epochs(n_records, p.n_shots, p.min_shots or p.n_shots, p.epochs)
        return sequences, p.m * used

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        p = self.params
        usable = []
        for item in items:
            missing = [m for m in p.modalities if m != IMAGE and m not in item.views]
            if missing:
                yield Reject(item.record, "missing_view", f"no view {missing}; the item has {sorted(item.views) or 'none'}")
            else:
                usable.append(item)
        shots, min_shots = p.n_shots, p.min_shots or p.n_shots
        grouped: set[int] = set()
        for epoch, indices in epoch_runs(len(usable), shots, min_shots, p.epochs, rng, p.shuffle):
            grouped.update(indices)
            run = [usable[i] for i in indices]
            order = [p.modalities[i] for i in rng.permutation(len(p.modalities))[: p.m]]
            provenance: dict[str, Any] = {"order": order, "shots": len(run)}
            if p.epochs > 1:
                provenance["epoch"] = epoch
            yield VisualSequence(
                images=[element(item, name) for item in run for name in order],
                task="",
                records=[item.record for item in run],
                provenance=provenance,
                split_key=run[0].image.id,
            )
        for i, item in enumerate(usable):
            if i not in grouped:
                yield Reject(item.record, "incomplete_sequence",
                             f"{len(usable) % shots} item(s) left over in this unit"
                             + (f" in each of the {p.epochs} passes" if p.epochs > 1 else "")
                             + f"; a sequence needs {min_shots} shots")
