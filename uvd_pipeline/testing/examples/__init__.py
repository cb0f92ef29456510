"""Conformance examples of the built-in plugins, looked up by kind and plugin name.

A plugin module holds its contract and its logic only; the sample inputs the conformance suite
checks it on live here, beside the suite, so that the test kit and the sample world depend on the
plugins and never the other way. A third-party plugin keeps declaring its own
`conformance_example(tmp_dir)` classmethod (see PLUGINS.md): that hook wins over this table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...stages import Plugin
from . import filters, renderers, sequencers, sources

Example = Callable[[Path], dict[str, Any]]

BUILTIN: dict[str, dict[str, Example]] = {
    "source": sources.EXAMPLES,
    "renderer": renderers.EXAMPLES,
    "sequencer": sequencers.EXAMPLES,
    "transform": {},  # the corruptions run on the generic sample pictures
    "filter": filters.EXAMPLES,
}


def builtin_example(kind: str, cls: type[Plugin]) -> Example | None:
    """The example this package keeps for a built-in plugin class, or None.

    Looked up by the plugin's registered name, and only for classes of uvd_pipeline itself: a
    third-party plugin that happens to share a name never gets a built-in's sample data."""
    if not cls.__module__.startswith("uvd_pipeline."):
        return None
    return BUILTIN.get(kind, {}).get(cls.name or _registered_name(kind, cls))


def example_for(kind: str, cls: type[Plugin], tmp_dir: Path) -> dict[str, Any] | None:
    """The plugin's own `conformance_example(tmp_dir)` if it declares one, else the built-in
    example for its name, else None (default params and generic sample inputs)."""
    if _declares_own_example(cls):
        return cls.conformance_example(tmp_dir)
    found = builtin_example(kind, cls)
    return found(tmp_dir) if found else None


def _declares_own_example(cls: type[Plugin]) -> bool:
    return getattr(cls.conformance_example, "__func__", None) is not Plugin.conformance_example.__func__


def _registered_name(kind: str, cls: type[Plugin]) -> str:
    from ... import registry

    for name in registry.names(kind):
        target = registry.target(kind, name)
        if target == f"{cls.__module__}:{cls.__qualname__}":
            return name
    return ""
