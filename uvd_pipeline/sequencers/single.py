"""One image per sequence: {image, EOS} in the paper (the trainer adds EOS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..stages import Sequencer
from ..types import Item, VisualSequence


class SingleImageSequencer(Sequencer):
    @classmethod
    def conformance_example(cls, tmp_dir: Path) -> dict[str, Any]:
        """Items with and without meta (a labelled item's meta goes into its provenance).
        Every item makes a sequence, so there are no bad_items."""
        from ..samples.conformance import sequencer_items

        return {"items": sequencer_items(3, meta=lambda i: {"class": "n00000001", "class_index": 1} if i else {})}

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence]:
        for item in items:
            yield VisualSequence(
                images=[item.image],
                task="",
                records=[item.record],
                provenance={"meta": item.meta} if item.meta else {},
                split_key=item.image.id,
            )
