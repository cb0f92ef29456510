"""Named target sets: per-category token shares a dataset should have.

`uvdv1` holds the shares the LVM paper gives for UVDv1 (Bai et al., 2023, Fig. 2 and section 3):
unlabelled images 88.5 %, images with annotations 7.2 %, unlabelled videos 4.2 %, videos with
annotations 0.06 %, 3D synthetic objects 0.05 %. As printed they add up to 100.01 % (rounding);
`shares()` normalises every set to sum to 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import CATEGORIES

TARGET_SETS: dict[str, dict[str, float]] = {
    "uvdv1": {
        "unlabelled_images": 88.5,
        "annotated_images": 7.2,
        "unlabelled_videos": 4.2,
        "annotated_videos": 0.06,
        "synthetic_3d": 0.05,
    },
}


def normalise(shares: Mapping[str, float], where: str = "targets") -> dict[str, float]:
    """Shares scaled to sum to 1, in category order; errors name the bad category."""
    for cat, value in shares.items():
        if cat not in CATEGORIES:
            raise ValueError(f"{where}: unknown category {cat!r}; categories: {', '.join(CATEGORIES)}")
        if value < 0:
            raise ValueError(f"{where}.{cat}: a share cannot be negative (got {value})")
    total = float(sum(shares.values()))
    if total <= 0:
        raise ValueError(f"{where}: shares must add up to more than 0")
    return {c: shares[c] / total for c in CATEGORIES if c in shares}


def target_set(name: str) -> dict[str, float]:
    """A named set, normalised."""
    if name not in TARGET_SETS:
        raise ValueError(f"unknown target set {name!r}; known: {', '.join(sorted(TARGET_SETS))}")
    return normalise(TARGET_SETS[name], name)


class ShareRow:
    """Mixin for dataclass rows with `share` and `target`: the deviation and a dict for JSON."""

    share: float
    target: float | None

    @property
    def deviation(self) -> float | None:
        return None if self.target is None else self.share - self.target

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"deviation": self.deviation}  # type: ignore[attr-defined]
