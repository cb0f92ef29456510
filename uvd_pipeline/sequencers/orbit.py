"""Orbit views of one object -> one visual sequence of consecutive views (3D synthetic objects).

The mesh sources (sources/meshes.py, sources/objaverse.py) render the views a sequence uses and tag
each with meta {object, view, order, azimuth_deg, views_per_orbit, sequence_length, ...}. This
sequencer groups the items of each object in the order the source gave, checks that they are the
whole run of consecutive views the source meant (each azimuth exactly 360/views_per_orbit degrees
after the previous one, wrapping), and returns one sequence with split_key = the object id, so an
object's sequences share one split. Provenance keeps the camera: radius, elevation, the view numbers
and their azimuths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..stages import Sequencer
from ..types import Item, Reject, VisualSequence

REQUIRED_META = (
    "object",
    "view",
    "order",
    "azimuth_deg",
    "elevation_deg",
    "radius",
    "views_per_orbit",
    "sequence_length",
)


class OrbitSequencer(Sequencer):

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int]:
        """One orbit sequence per object: `sequence_length` consecutive views (default 16)."""
        length = int((source_params or {}).get("sequence_length", 16))
        return n_records, n_records * length

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterator[VisualSequence | Reject]:
        groups: dict[str, list[Item]] = {}
        for item in items:
            missing = [k for k in REQUIRED_META if k not in item.meta]
            if missing:
                yield Reject(item.record, "not_an_orbit_view", f"meta lacks {', '.join(missing)} (use a mesh source)")
                continue
            groups.setdefault(str(item.meta["object"]), []).append(item)
        for obj, views in groups.items():
            problem = _check_orbit(views)
            if problem:
                for record in dict.fromkeys(v.record for v in views):
                    yield Reject(record, "broken_orbit", f"object {obj}: {problem}")
                continue
            first = views[0].meta
            yield VisualSequence(
                images=[v.image for v in views],
                task="",
                records=list(dict.fromkeys(v.record for v in views)),
                provenance={
                    "object": obj,
                    "mesh_id": first.get("mesh_id", ""),
                    "radius": first["radius"],
                    "elevation_deg": first["elevation_deg"],
                    "views_per_orbit": first["views_per_orbit"],
                    "start_view": first["view"],
                    "views": [v.meta["view"] for v in views],
                    "azimuths_deg": [v.meta["azimuth_deg"] for v in views],
                },
                split_key=obj,
            )


def _check_orbit(views: list[Item]) -> str:
    first = views[0].meta
    n, length = int(first["views_per_orbit"]), int(first["sequence_length"])
    if len(views) != length:
        return f"{len(views)} views where the source made {length}"
    step = 360.0 / n
    for j, v in enumerate(views):
        m = v.meta
        if m["order"] != j:
            return f"view {j} arrived as number {m['order']}"
        if (m["radius"], m["elevation_deg"], m["views_per_orbit"]) != (first["radius"], first["elevation_deg"], n):
            return f"view {j} has another camera orbit"
        expected_view = (first["view"] + j) % n
        if m["view"] != expected_view or m["azimuth_deg"] != expected_view * step:
            return f"view {j} is view {m['view']} at {m['azimuth_deg']} degrees, expected view {expected_view}"
    return ""
