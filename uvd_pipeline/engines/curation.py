"""Curation on an engine: the same task runner the engine offers (in-process, Ray tasks, a Beam
pipeline) runs the signature, filter and cluster passes before any unit is built."""

from __future__ import annotations

from ..console.logs import event, get_logger
from ..console.walk_progress import WalkProgress
from ..curation.passes import curate
from ..manifests.store import OutputStore
from ..recipe import Recipe
from ..types import WorkUnit

log = get_logger("curation")


def curate_on_engine(
    recipe: Recipe, store: OutputStore, units: list[WorkUnit], engine: str, workers: int = 1, address: str | None = None
) -> list[WorkUnit]:
    from .tasks import task_runner

    runner = task_runner(engine, workers=workers, **({"address": address} if engine == "ray" else {}))
    try:
        with WalkProgress("signatures") as progress:
            return curate(recipe, store, units, runner, log=lambda msg: event(log, "curation", msg), on_unit=progress)
    finally:
        close = getattr(runner, "close", None)
        if close:
            close()
