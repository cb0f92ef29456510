"""Split every source of a recipe into deterministic work units."""

from __future__ import annotations

from .. import registry
from ..errors import RecipeError, UvdError
from .quota import apply_quotas
from ..recipe import Recipe
from ..storage import set_input_policy
from ..types import WorkUnit


def unit_id(source: str, index: int) -> str:
    return f"{source}-{index:06d}"


def plan_units(recipe: Recipe, with_quotas: bool = True) -> list[WorkUnit]:
    """Every source's units in recipe order; capped sources' units carry their quota (pipeline/quota.py)."""
    units: list[WorkUnit] = []
    set_input_policy(recipe.preprocess.max_record_bytes, recipe.preprocess.follow_links_outside_input)
    for n, spec in enumerate(recipe.sources):
        source = registry.create_source(spec.plugin, spec.params, recipe.seed)
        try:
            payloads = source.units()
        except UvdError:
            raise
        except Exception as exc:  # a missing folder, an annotation file that cannot be parsed at all
            raise RecipeError(
                f"sources[{n}] ({spec.name}, plugin {spec.plugin}): cannot plan its units: {type(exc).__name__}: {exc}"
            ) from None
        for i, payload in enumerate(payloads):
            units.append(WorkUnit(unit_id(spec.name, i), spec.name, i, payload))
    return apply_quotas(recipe, units) if with_quotas else units


def gpu_stages(recipe: Recipe) -> list[str]:
    """The recipe's build stages that declare `needs_gpu` (e.g. a pose estimator), as
    "source: kind name"; engines give the unit tasks a GPU share when this is not empty."""
    found = []
    for spec in recipe.sources:
        stages = [("source", spec.plugin), ("sequencer", spec.sequencer.plugin)]
        stages += [("renderer", r.plugin) for r in spec.renderers] + [("transform", t.plugin) for t in spec.transforms]
        found += [f"{spec.name}: {kind} {name}" for kind, name in stages if registry.load(kind, name).needs_gpu]
    return found
