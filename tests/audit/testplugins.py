"""Sequencer plugins used only by the tests, registered through a real entry point
(an `uvd_testplugins` distribution on sys.path, see worlds.install_test_plugins).

- test_windows: overlapping windows of `size` images every `stride` items (sequences share images,
  which is what the leak-free split must handle);
- test_pairs: (input, annotation) pairs laid out input, annotation, ...; the "annotation" is the
  inverted image with a derived id, `pairs` pairs per sequence.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from uvd_pipeline.ids import derived_id
from uvd_pipeline.stages import Sequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence


class WindowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(default=4, ge=1, le=16)
    stride: int = Field(default=2, ge=1)


def window_starts(n: int, size: int, stride: int) -> list[int]:
    if n < size:
        return []
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] + size < n:  # cover the tail with one more (overlapping) window
        starts.append(n - size)
    return starts


class WindowSequencer(Sequencer):
    Params = WindowParams

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        items = sorted(items, key=lambda it: it.record)
        p = self.params
        starts = window_starts(len(items), p.size, p.stride)
        if not starts:
            for it in items:
                yield Reject(it.record, "too_few_items", f"{len(items)} items, windows of {p.size}")
            return
        for s in starts:
            group = items[s : s + p.size]
            yield VisualSequence(images=[it.image for it in group], task="", records=[it.record for it in group],
                                 split_key=group[0].image.id)

    def predict(self, n_records, source_params=None):
        k = len(window_starts(n_records, self.params.size, self.params.stride))
        return k, k * self.params.size


class PairsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: int = Field(default=8, ge=1, le=8)


class PairsSequencer(Sequencer):
    Params = PairsParams

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        items = sorted(items, key=lambda it: it.record)
        k = self.params.pairs
        full = len(items) - len(items) % k
        for start in range(0, full, k):
            images = []
            for it in items[start : start + k]:
                note = Image(derived_id(it.image.id, self.name, self.version, self.params_dict), 255 - it.image.pixels)
                images += [it.image, note]
            yield VisualSequence(images=images, task="", records=[it.record for it in items[start : start + k]])
        for it in items[full:]:
            yield Reject(it.record, "incomplete_group", f"groups take {k} items")

    def predict(self, n_records, source_params=None):
        k = n_records // self.params.pairs
        return k, k * 2 * self.params.pairs
