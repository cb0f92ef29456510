"""Engines run the same stages in different places: `local` (in-process reference), `ray`, `beam`."""

from .base import ENGINES, RunSummary, run_recipe

__all__ = ["ENGINES", "RunSummary", "run_recipe"]
