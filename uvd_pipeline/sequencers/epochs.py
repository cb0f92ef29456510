"""Passes over a unit's items, as the LVM scripts make them for pairs and k-annotation tuples.

The LVM scripts build these sequences over `n_epochs` passes (5 in the release): each pass is a
fresh random permutation of the items cut into groups, so every item appears in one sequence per
pass, each time with other partners, and never twice in one sequence. `epoch_runs` yields the
groups of every pass in order; the permutation of a pass is drawn from the sequencer's rng when
the pass begins (after the previous pass's groups were consumed), so one pass draws exactly what
a sequencer without epochs drew.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

EPOCHS_FIELD = Field(
    default=1, ge=1, le=1000, exclude_if=lambda v: v == 1,
    description="passes over the unit, each a fresh random permutation into groups (the LVM scripts: 5)",
)


def epoch_runs(
    n_items: int, size: int, min_size: int, epochs: int, rng: np.random.Generator, shuffle: bool = True
) -> Iterator[tuple[int, list[int]]]:
    """(pass, item indices) for every group of at least `min_size` items, pass after pass.

    A pass's tail shorter than `min_size` makes no group; an item that is in no group of any pass
    is the caller's to reject."""
    for epoch in range(epochs):
        order = rng.permutation(n_items) if shuffle else np.arange(n_items)
        for start in range(0, n_items, size):
            run = [int(i) for i in order[start : start + size]]
            if len(run) >= min_size:
                yield epoch, run


def predict_epochs(n_records: int, size: int, min_size: int, epochs: int) -> tuple[int, int]:
    """(sequences, items used) over all passes: every pass groups the same number of items."""
    full, rest = divmod(n_records, size)
    extra = 1 if rest and rest >= min_size else 0
    return epochs * (full + extra), epochs * (full * size + (rest if extra else 0))
