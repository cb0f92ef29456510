"""ImageNet class groups: 16 images made of groups of g images, each group from one class.

Per sequence, g is drawn (seeded) from `group_sizes` (default 2, 4, 8, 16), and `length // g`
different classes are drawn among those with at least g images left; each gives g images, one
group after the other; a class with more images left is likelier to be drawn, so that classes run
out together. When the drawn g cannot be filled from what is left in the unit, the other
sizes are tried in a random order; when none fits, the remaining images are rejected as
"incomplete_group" (say, 3 images of one class with no group size <= 3 available). Items without a
class label are rejected as "missing_label".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages import Sequencer
from ..types import MAX_IMAGES_PER_SEQUENCE, Item, Reject, VisualSequence


class ClassGroupsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_sizes: list[int] = Field(default_factory=lambda: [2, 4, 8, 16], min_length=1)
    length: int = Field(default=MAX_IMAGES_PER_SEQUENCE, ge=1, le=MAX_IMAGES_PER_SEQUENCE)
    class_key: str = Field(default="class", description="the item.meta key holding the class label")

    @model_validator(mode="after")
    def _sizes(self) -> ClassGroupsParams:
        bad = [g for g in self.group_sizes if g < 1 or self.length % g]
        if bad:
            raise ValueError(f"group sizes {bad} do not divide the sequence length {self.length}")
        if len(set(self.group_sizes)) != len(self.group_sizes):
            raise ValueError(f"group_sizes repeats a size: {self.group_sizes}")
        return self


class ClassGroupsSequencer(Sequencer):
    Params = ClassGroupsParams

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """An upper bound: `length` images per sequence. How many sequences the groups fill
        depends on the class sizes inside the unit, which only reading the labels tells."""
        k = n_records // self.params.length
        return k, k * self.params.length

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        p = self.params
        by_class: dict[str, list[Item]] = {}
        for item in items:
            label = item.meta.get(p.class_key)
            if label is None:
                yield Reject(item.record, "missing_label", f"item.meta has no {p.class_key!r}")
                continue
            by_class.setdefault(str(label), []).append(item)
        left = {c: [by_class[c][i] for i in rng.permutation(len(by_class[c]))] for c in sorted(by_class)}
        while True:
            picked = self._pick(left, rng)
            if picked is None:
                break
            g, classes = picked
            members: list[Item] = []
            for c in classes:
                members.extend(left[c][:g])
                left[c] = left[c][g:]
            yield VisualSequence(
                images=[m.image for m in members],
                task="",
                records=[m.record for m in members],
                provenance={"group_size": g, "classes": classes},
                split_key=members[0].image.id,
            )
        for c, rest in left.items():
            for item in rest:
                yield Reject(
                    item.record,
                    "incomplete_group",
                    f"class {c!r}: {len(rest)} image(s) left in this unit that no group size in "
                    f"{p.group_sizes} could place beside the other classes left",
                )

    def _pick(self, left: dict[str, list[Item]], rng: np.random.Generator) -> tuple[int, list[str]] | None:
        p = self.params
        first = int(rng.integers(len(p.group_sizes)))
        others = [s for i, s in enumerate(p.group_sizes) if i != first]
        for g in [p.group_sizes[first]] + [others[i] for i in rng.permutation(len(others))]:
            n_groups = p.length // g
            eligible = [c for c in left if len(left[c]) >= g]
            if len(eligible) >= n_groups:
                # Classes with more images left are likelier picks, so classes run out together.
                weight = np.array([len(left[c]) for c in eligible], dtype=np.float64)
                chosen = rng.choice(len(eligible), size=n_groups, replace=False, p=weight / weight.sum())
                return g, [eligible[i] for i in chosen]
        return None
