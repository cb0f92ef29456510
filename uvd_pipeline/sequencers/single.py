"""One image per sequence: {image, EOS} in the paper (the trainer adds EOS)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..stages import Sequencer
from ..types import Item, VisualSequence


class SingleImageSequencer(Sequencer):

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence]:
        for item in items:
            yield VisualSequence(
                images=[item.image],
                task="",
                records=[item.record],
                provenance={"meta": item.meta} if item.meta else {},
                split_key=item.image.id,
            )
