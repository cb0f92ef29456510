"""A small built-in sample world in the real formats, for the demo and the tests.

`make_samples(dir)` writes each part with its own `make_*` function; later parts (annotations,
videos, meshes) add theirs to `PARTS`.
"""

from .world import PARTS, make_samples

__all__ = ["PARTS", "make_samples"]
