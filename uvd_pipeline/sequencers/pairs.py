"""(input, output) pairs -> one sequence of 8 pairs = 16 images: {x1, y1, x2, y2, ..., x8, y8}.

The pair of an item is its image and one of its views (a rendered annotation, a corruption, or the
output image of a paired dataset). `view` names it; left out, an item must have exactly one view.
`view_first` puts the view before the image (corruptions: the grey / masked / noisy / dark image is
the input and the original the output). Items are shuffled with the unit's seeded rng, then cut
into runs of `pairs`. A tail of fewer than `min_pairs` (default: `pairs`, so every sequence is
full) makes no sequence; lower `min_pairs` to keep shorter last sequences.

`epochs` repeats this as the LVM scripts do (`n_epochs = 5` there; 1, a single pass, by default):
each pass is a fresh seeded permutation of the unit's items into runs, so with `epochs: 5` every
pair appears in five sequences with other partners, never twice in one sequence. An item left in
the tail of every pass is rejected as "incomplete_sequence".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages import Sequencer
from .epochs import EPOCHS_FIELD, epoch_runs, predict_epochs
from ..types import MAX_IMAGES_PER_SEQUENCE, Image, Item, Reject, VisualSequence


class PairsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: str | None = Field(default=None, description="the view paired with the image; default: the only one")
    pairs: int = Field(default=8, ge=1, le=MAX_IMAGES_PER_SEQUENCE // 2, description="pairs per sequence")
    min_pairs: int | None = Field(default=None, ge=1, description="shortest last sequence; default: pairs")
    view_first: bool = Field(default=False, description="put the view before the image in each pair")
    shuffle: bool = True
    epochs: int = EPOCHS_FIELD

    @model_validator(mode="after")
    def _min(self) -> PairsParams:
        if self.min_pairs is not None and self.min_pairs > self.pairs:
            raise ValueError(f"min_pairs ({self.min_pairs}) cannot exceed pairs ({self.pairs})")
        if self.epochs > 1 and not self.shuffle:
            raise ValueError(f"epochs ({self.epochs}) needs shuffle: true (unshuffled passes repeat the same sequences)")
        return self


def pick_view(item: Item, view: str | None) -> tuple[str, Image] | Reject:
    if view is not None:
        if view in item.views:
            return view, item.views[view]
        return Reject(item.record, "missing_view", f"no view {view!r}; the item has {sorted(item.views) or 'none'}")
    if len(item.views) == 1:
        return next(iter(item.views.items()))
    if not item.views:
        return Reject(item.record, "missing_view", "the item has no view (no annotation of this kind?)")
    return Reject(item.record, "ambiguous_view", f"several views {sorted(item.views)}; set the sequencer's view")


class PairsSequencer(Sequencer):
    Params = PairsParams

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """`pairs` (image, view) pairs per sequence; a remainder of at least `min_pairs` makes a
        shorter last sequence; `epochs` passes. Exact when every record has the view."""
        p = self.params
        sequences, used = predict_epochs(n_records, p.pairs, p.min_pairs or p.pairs, p.epochs)
        return sequences, 2 * used

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        p = self.params
        usable: list[tuple[Item, str, Image]] = []
        for item in items:
            got = pick_view(item, p.view)
            if isinstance(got, Reject):
                yield got
            else:
                usable.append((item, *got))
        min_pairs = p.min_pairs or p.pairs
        grouped: set[int] = set()
        for epoch, indices in epoch_runs(len(usable), p.pairs, min_pairs, p.epochs, rng, p.shuffle):
            grouped.update(indices)
            run = [usable[i] for i in indices]
            images: list[Image] = []
            for item, _, view in run:
                images.extend([view, item.image] if p.view_first else [item.image, view])
            provenance = {"view": sorted({name for _, name, _ in run}), "pairs": len(run),
                          "order": "view_first" if p.view_first else "image_first"}
            if p.epochs > 1:
                provenance["epoch"] = epoch
            yield VisualSequence(
                images=images,
                task="",
                records=[item.record for item, _, _ in run],
                provenance=provenance,
                split_key=run[0][0].image.id,
            )
        left = [usable[i] for i in range(len(usable)) if i not in grouped]
        for item, _, _ in left:
            yield Reject(
                item.record,
                "incomplete_sequence",
                f"{len(usable) % p.pairs} pair(s) left over in this unit"
                + (f" in each of the {p.epochs} passes" if p.epochs > 1 else "")
                + f"; a sequence needs {min_pairs} (min_pairs)",
            )
