"""Split every source of a recipe into deterministic work units."""

from __future__ import annotations

from .. import registry
from ..audit.quota import apply_quotas
from ..recipe import Recipe
from ..types import WorkUnit


def unit_id(source: str, index: int) -> str:
    return f"{source}-{index:06d}"


def plan_units(recipe: Recipe, with_quotas: bool = True) -> list[WorkUnit]:
    """Every source's units in recipe order; capped sources' units carry their quota (audit/quota.py)."""
    units: list[WorkUnit] = []
    for spec in recipe.sources:
        source = registry.create("source", spec.plugin, spec.params)
        for i, payload in enumerate(source.units()):
            units.append(WorkUnit(unit_id(spec.name, i), spec.name, i, payload))
    return apply_quotas(recipe, units) if with_quotas else units
