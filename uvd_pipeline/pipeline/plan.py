"""Split every source of a recipe into deterministic work units."""

from __future__ import annotations

from .. import registry
from ..recipe import Recipe
from ..types import WorkUnit


def unit_id(source: str, index: int) -> str:
    return f"{source}-{index:06d}"


def plan_units(recipe: Recipe) -> list[WorkUnit]:
    units: list[WorkUnit] = []
    for spec in recipe.sources:
        source = registry.create("source", spec.plugin, spec.params)
        for i, payload in enumerate(source.units()):
            units.append(WorkUnit(unit_id(spec.name, i), spec.name, i, payload))
    return units
