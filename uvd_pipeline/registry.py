"""Plugin registry over Python entry points. Built-ins register through the same groups.

Only installed entry points are loaded: a recipe can name a plugin, never an import path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from .errors import UnknownPluginError
from .stages import Filter, Plugin, Renderer, Sequencer, Source, Transform

KINDS: dict[str, tuple[str, type[Plugin]]] = {
    "source": ("uvd_pipeline.sources", Source),
    "renderer": ("uvd_pipeline.renderers", Renderer),
    "transform": ("uvd_pipeline.transforms", Transform),
    "sequencer": ("uvd_pipeline.sequencers", Sequencer),
    "filter": ("uvd_pipeline.filters", Filter),
}


class PluginImportError(UnknownPluginError):
    """An installed entry point whose module or object fails to import."""


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    target: str
    distribution: str
    version: str
    error: str = ""


@lru_cache(maxsize=None)
def _entry_points(kind: str) -> dict[str, EntryPoint]:
    group = _group(kind)
    found: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        found.setdefault(ep.name, ep)
    return found


def _group(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
    return KINDS[kind][0]


def names(kind: str) -> list[str]:
    return sorted(_entry_points(kind))


def target(kind: str, name: str) -> str:
    """The "module:Class" an installed plugin's entry point names (nothing is imported)."""
    eps = _entry_points(kind)
    return eps[name].value if name in eps else ""


def load(kind: str, name: str) -> type[Plugin]:
    """The plugin class registered as `name` in `kind`'s group."""
    eps = _entry_points(kind)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "(none installed)"
        raise UnknownPluginError(f"unknown {kind} plugin {name!r}{did_you_mean(name, eps)}; known {kind}s: {known}")
    try:
        cls = eps[name].load()
    except Exception as exc:  # a broken plugin is reported with its cause, not as a traceback
        raise PluginImportError(
            f"{kind} plugin {name!r} ({eps[name].value}) does not import: {type(exc).__name__}: {exc}"
        ) from exc
    base = KINDS[kind][1]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise UnknownPluginError(f"{kind} plugin {name!r} ({eps[name].value}) is not a {base.__name__} subclass")
    # The registered name is the plugin's identity (it enters derived ids): one class, one name.
    if cls.name and cls.name != name:
        raise UnknownPluginError(
            f"{kind} plugin {name!r} ({eps[name].value}) declares name {cls.name!r}; they must match"
        )
    cls.name = name
    return cls


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest of `choices` (difflib), or "" when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def create(kind: str, name: str, params: dict | None = None) -> Plugin:
    return load(kind, name)(**(params or {}))


def create_source(name: str, params: dict | None, recipe_seed: int) -> Plugin:
    """A source plugin for a recipe entry. A source that draws at random (video clips, orbit
    cameras, sampled subsets) declares a `seed` param; where the recipe entry sets none, the
    recipe's own `seed` fills it, so one `seed:` at the top of a recipe reseeds every stage."""
    cls = load("source", name)
    params = dict(params or {})
    if "seed" in cls.Params.model_fields and "seed" not in params:
        params["seed"] = recipe_seed
    return cls(**params)


def describe() -> list[PluginInfo]:
    """Every installed plugin with its distribution; one that fails to import shows its error."""
    rows = []
    for kind in KINDS:
        for name, ep in _entry_points(kind).items():
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            error = ""
            try:
                load(kind, name)
            except PluginImportError as exc:
                error = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
            except Exception as exc:  # a broken plugin must not break the listing
                error = f"{type(exc).__name__}: {exc}"
            rows.append(PluginInfo(kind, name, ep.value, dist, version, error))
    return rows


def clear_cache() -> None:
    _entry_points.cache_clear()
