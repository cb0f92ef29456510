"""Engine-agnostic steps: plan units, build a unit's sequences, tokenize them.

Engines (uvd_pipeline.engines) only decide where and when these run.
"""

from .build import UnitBuild, UnitBuilder
from .plan import plan_units
from .tokenize import TokenizerStage

__all__ = ["UnitBuild", "UnitBuilder", "plan_units", "TokenizerStage"]
