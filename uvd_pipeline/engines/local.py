"""The in-process engine: one worker, the reference every other engine must match."""

from __future__ import annotations

from ..manifests.store import OutputStore
from ..pipeline.tokenize import TokenizerStage, tokenize_with
from ..recipe import Recipe
from ..types import WorkUnit
from .progress import RunProgress
from .timeouts import make_builder
from .unit import commit_built


def run_local(recipe: Recipe, store: OutputStore, units: list[WorkUnit], progress: RunProgress, *,
              unit_timeout: float | None = None, preview_memory: str | None = None, **_: object) -> list[tuple[str, str]]:
    """Returns (unit id, error) for units that failed; they stay uncommitted for the next run.
    With `unit_timeout`, units are built in a child process killed at the deadline (timeouts.py)."""
    builder = make_builder(recipe, unit_timeout)
    tokenizer = TokenizerStage(recipe.tokenizer)
    failures: list[tuple[str, str]] = []
    try:
        for unit in units:
            try:
                built = builder.build(unit)
                progress.unit_built()
                tokens = tokenize_with(tokenizer.encode, built.sequences)
                progress.images_tokenized(built.n_images)
                commit_built(store, recipe, built, tokens, preview_memory)
                progress.unit_committed()
            except Exception as exc:  # one bad unit must not stop the others
                failures.append((unit.id, f"{type(exc).__name__}: {exc}"))
                progress.log(f"[red]unit {unit.id} failed: {type(exc).__name__}: {exc}")
    finally:
        builder.close()
    return failures
