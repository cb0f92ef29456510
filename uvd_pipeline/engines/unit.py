"""What every engine does with one unit, split where engines need to split it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..exports.run_previews import MemoryKey, remember_committed, write_unit_previews
from ..manifests.store import OutputStore
from ..manifests.writer import commit_unit
from ..pipeline.build import UnitBuild, UnitBuilder
from ..pipeline.scores import keeps_scores
from ..pipeline.tokenize import tokenize_with
from ..recipe import Recipe
from ..types import TokenSequence, WorkUnit

Encode = Callable[[np.ndarray], np.ndarray]


def commit_built(store: OutputStore, recipe: Recipe, built: UnitBuild, tokens: list[TokenSequence],
                 preview_memory: MemoryKey | None = None) -> dict[str, Any]:
    """Write the unit's preview candidates, then commit it; returns its ledger entry. With
    `preview_memory` (the run's token), candidates this process's earlier commits of the run beat
    are not written (exports/run_previews.py)."""
    # The raw preview sheets of this unit's candidates, from the pixels in memory, before the ledger
    # entry (a committed unit always has the ones that can be in the sample; exports/run_previews.py).
    # Beam's staged layout commits without pixels: its build step writes them (engines/beam_engine.py).
    write_unit_previews(store, built.sequences, memory=preview_memory)
    entry = commit_unit(
        store,
        built.unit,
        tokens,
        built.rejects,
        category=recipe.source(built.unit.source).category,
        recipe_fingerprint=recipe.fingerprint(),
        records_read=built.records_read,
        records_used=built.records_used,
        tokenizer=pinned_tokenizer(store),
        scores=(built.scores or {}) if keeps_scores(recipe) else None,  # a recipe with filters keeps their scores
    )
    if preview_memory is not None:
        remember_committed(preview_memory, built.sequences)
    return entry


def process_unit(builder: UnitBuilder, encode: Encode, store: OutputStore, unit: WorkUnit,
                 preview_memory: MemoryKey | None = None) -> dict[str, Any]:
    """Build, tokenize and commit one unit; returns its ledger entry."""
    built = builder.build(unit)
    tokens = tokenize_with(encode, built.sequences)
    return commit_built(store, builder.recipe, built, tokens, preview_memory)


def pinned_tokenizer(store: OutputStore) -> dict[str, Any] | None:
    """The effective tokenizer recorded in the output's recipe.resolved.yaml at its first run
    (engines/identity.py), which every ledger entry records; None for an output begun before."""
    import yaml

    from ..manifests.schema import RECIPE_FILE

    try:
        resolved = yaml.safe_load(store.read_text(RECIPE_FILE)) or {}
    except FileNotFoundError:
        return None
    return resolved.get("tokenizer_identity") if isinstance(resolved, dict) else None

