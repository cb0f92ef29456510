"""What to change in a recipe when a source loses its records to one reject reason.

`hint(reason, spec, index)` names the recipe field (with its current value) that decides the
reason, for the reasons a recipe can do something about; the end-of-run warning
(engines/outcome.py) and `uvd plan` (audit/planner.py) print it.
"""

from __future__ import annotations

from typing import Any

from ..recipe import SourceSpec

#: sequencers that reject a short last group, and the params that set the group and its minimum
GROUPING_PARAMS: dict[str, tuple[str, str]] = {
    "pairs": ("pairs", "min_pairs"),
    "ktuple": ("shots", "min_shots"),
}


def _value(params: dict[str, Any], name: str, default: Any) -> Any:
    got = params.get(name)
    return default if got is None else got


def grouping_hint(spec: SourceSpec, index: int) -> str:
    """The params that decide how many records one sequence needs, for a grouping sequencer."""
    where = f"sources[{index}].sequencer.params"
    plugin = spec.sequencer.plugin
    if plugin in GROUPING_PARAMS:
        group, minimum = GROUPING_PARAMS[plugin]
        from .. import registry

        params = registry.create("sequencer", plugin, spec.sequencer.params).params_dict
        size = params.get(group)
        least = _value(params, minimum, size)
        shown = f"{size}" if size is not None else "as many as fit"
        return (f"set {where}.{minimum} (now {least if least is not None else shown}) to at most the records one unit "
                f"has, e.g. {minimum}: 1 keeps a shorter last sequence, or lower {where}.{group} (now {shown}); "
                f"records group within one unit, so a larger unit (the source's unit size) also helps")
    return f"records are grouped by sequencer {plugin!r}: see `uvd plugins show {plugin}` for its params ({where})"


def hint(reason: str, spec: SourceSpec, index: int) -> str:
    """What to change so that fewer records end with `reason` (generic advice for other reasons)."""
    src = f"sources[{index}].params"
    if reason == "incomplete_sequence":
        return grouping_hint(spec, index)
    if reason == "video_too_short":
        frames = spec.params.get("frames", "default 16")
        strides = spec.params.get("strides", "default [10, 20, 30]")
        return f"lower {src}.frames (now {frames}) or {src}.strides (now {strides}): a clip must fit in the video"
    if reason == "over_quota":
        return f"raise sources[{index}].max_sequences or the recipe's targets: the plan capped this source"
    if reason in ("missing_view", "ambiguous_view"):
        return (f"set sources[{index}].sequencer.params.view to a view every item has, or add the renderer "
                f"(sources[{index}].renderers) that draws it")
    if reason == "unused":
        return f"sequencer {spec.sequencer.plugin!r} used none of these records: check sources[{index}].sequencer"
    if reason == "missing_label":
        return f"set sources[{index}].sequencer.params.class_key to the item field that holds the class"
    return (f"the records themselves are at fault: `uvd audit OUT` lists them with details; "
            f"`uvd plugins show {spec.plugin}` describes what the source expects")
