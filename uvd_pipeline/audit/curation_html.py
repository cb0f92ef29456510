"""The curation section of the HTML report: the drops table, the cluster-size histogram, and
contact sheets of dropped images beside their kept twins or evaluation matches.

Examples are a bounded, deterministic choice: the decision files are streamed unit by unit and,
per reason, the EXAMPLES_PER_REASON rows with the smallest hash of (unit, record) are kept. Their
pixels are read back through the source plugins of recipe.resolved.yaml (training sources) and
its evaluation sets: the units holding them are planned again (pipeline.plan.plan_units,
curation.passes.plan_eval_units, for those sources only), and each needed unit is read once.
"""

from __future__ import annotations

import heapq
import html
from typing import Any

import numpy as np

from ..curation.ledger import read_checked, read_decisions_summary
from ..ids import unit_fraction
from ..manifests.reader import Dataset
from .curation import REASONS, CurationSection

EXAMPLES_PER_REASON = 3


def choose_examples(ds: Dataset, per_reason: int = EXAMPLES_PER_REASON) -> list[dict[str, Any]]:
    """Up to `per_reason` dropped records per reason, by the smallest hash of (unit, record): the
    same choice whatever the order of the files. Memory: one decision table plus the choice."""
    summary = read_decisions_summary(ds.store)
    if summary is None:
        return []
    kept: dict[str, list[tuple[float, str, str, dict[str, Any]]]] = {r: [] for r in REASONS}
    for unit, info in sorted(summary["units"].items()):
        source = _unit_source(ds, unit)
        for row in read_checked(ds.store, info).to_pylist():
            heap = kept.setdefault(row["reason"], [])
            key = (-unit_fraction("audit-example", unit, row["record"]), unit, row["record"])
            item = (*key, {"unit": unit, "source": source, **row})
            if len(heap) < per_reason:
                heapq.heappush(heap, item)
            elif key > heap[0][:3]:
                heapq.heapreplace(heap, item)
    out = []
    for reason in REASONS:
        out += [item[3] for item in sorted(kept.get(reason, []), key=lambda x: (-x[0], x[1], x[2]))]
    return out


def _unit_source(ds: Dataset, unit: str) -> str:
    entry = ds._entries_by_unit.get(unit)
    return entry["source"] if entry else unit.rsplit("-", 1)[0]


def read_example_pixels(recipe_dict: dict[str, Any], examples: list[dict[str, Any]]) -> tuple[dict, list[str]]:
    """{(unit, record): RGB pixels} of every example and twin, read through the source plugins;
    and notes on what could not be read."""
    from .. import registry
    from ..curation.passes import plan_eval_units
    from ..images import set_pixel_limit
    from ..pipeline.plan import plan_units
    from ..recipe import Recipe
    from ..types import Item

    recipe = Recipe.model_validate(recipe_dict)
    set_pixel_limit(recipe.preprocess.max_image_pixels)
    wanted: dict[str, set[str]] = {}
    for e in examples:
        wanted.setdefault(e["unit"], set()).add(e["record"])
        if e.get("twin_unit"):
            wanted.setdefault(e["twin_unit"], set()).add(e["twin_record"])
    sources = {e["source"] for e in examples} | {e["twin_source"] for e in examples if e.get("twin_source")}
    names = {s.name for s in recipe.sources}
    sub = recipe.model_copy(update={
        "sources": [s for s in recipe.sources if s.name in sources] or recipe.sources[:1],
        "curation": recipe.curation.model_copy(update={"eval_sets": [v for v in recipe.curation.eval_sets if v.name in sources]})
        if recipe.curation else None,
    })
    notes: list[str] = []
    units = {}
    try:
        units = {u.id: u for u in plan_units(sub, with_quotas=False) + plan_eval_units(sub) if u.id in wanted}
    except Exception as exc:  # the data moved since the build: the sheets are left out, the audit goes on
        notes.append(f"cannot plan the units holding the examples again ({type(exc).__name__}: {exc})")
    pixels: dict[tuple[str, str], np.ndarray] = {}
    for unit_id in sorted(units):
        unit = units[unit_id]
        spec = recipe.source(unit.source) if unit.source in names else next(v for v in recipe.curation.eval_sets if v.name == unit.source)
        source = registry.create_source(spec.plugin, spec.params, recipe.seed)
        try:
            source.setup()
            for got in source.read(unit):
                if isinstance(got, Item) and got.record in wanted[unit_id] and (unit_id, got.record) not in pixels:
                    pixels[(unit_id, got.record)] = _small(got.image.pixels)
        except Exception as exc:
            notes.append(f"unit {unit_id}: cannot read it again ({type(exc).__name__}: {exc})")
        finally:
            source.teardown()
    lost = sorted(f"{u}/{r}" for u, recs in wanted.items() for r in recs if (u, r) not in pixels)
    if lost and not notes:
        notes.append(f"{len(lost)} example images not found again in their units: {', '.join(lost[:5])}")
    return pixels, notes


def _small(pixels: np.ndarray, side: int = 192) -> np.ndarray:
    from ..curation.signatures import shrink

    return shrink(np.asarray(pixels, np.uint8), side)


def histogram_png(section: CurationSection) -> bytes | None:
    if not section.cluster_sizes:
        return None
    from .page import _figure_png, _matplotlib

    plt = _matplotlib()
    keys = list(section.cluster_sizes)
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    ax.bar(range(len(keys)), [section.cluster_sizes[k] for k in keys], color="#1a73e8")
    ax.set_xticks(range(len(keys)), keys)
    ax.set_xlabel("records in the cluster")
    ax.set_ylabel("clusters")
    ax.set_title("near-duplicate cluster sizes")
    return _figure_png(fig)


def curation_html(section: CurationSection, ds: Dataset, recipe: dict[str, Any]) -> str:
    from .page import _b64, _sheet_jpeg, _table
    from .fmt import fmt_int, fmt_share

    parts = ["<h2>Curation</h2>"]
    rows = []
    for r in section.by_source + [{"source": "total", **section.totals, "tokens_per_record": None}]:
        per = f"{r['tokens_per_record']:,.0f}" if r.get("tokens_per_record") is not None else ""
        rows.append([html.escape(r["source"]), *(fmt_int(r[k]) for k in REASONS), fmt_int(r["dropped"]), per,
                     fmt_int(r["tokens_saved"]) if r["tokens_saved"] is not None else "?", fmt_share(r["saved_share"])])
    parts.append(_table(["source", *REASONS, "dropped", "tokens/record", "tokens saved (est.)", "saved share"], rows, total_last=True))
    parts.append(f'<p class="note">{html.escape(section.estimate)}</p>')
    png = histogram_png(section)
    if png:
        parts.append(f'<div class="plots"><img alt="cluster sizes" class="plot" src="{_b64(png, "image/png")}"></div>')
    examples = choose_examples(ds)
    if not examples:
        return "\n".join(parts)
    pixels, notes = read_example_pixels(recipe, examples)
    parts.append("<h3>Dropped images and what they matched</h3>")
    for note in notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for e in examples:
        mine = pixels.get((e["unit"], e["record"]))
        twin = pixels.get((e["twin_unit"], e["twin_record"])) if e.get("twin_unit") else None
        shown = [p for p in (mine, twin) if p is not None]
        caption = (f"<b>{html.escape(e['reason'])}</b> · dropped {html.escape(e['source'])}/<code>{html.escape(e['record'])}</code>"
                   + (f" · kept {html.escape(e['twin_source'])}/<code>{html.escape(e['twin_record'])}</code>" if e.get("twin_unit") else "")
                   + f" · {html.escape(e['detail'])}")
        img = (f'<img alt="curation {html.escape(e["reason"])} {html.escape(e["record"])}" '
               f'src="{_b64(_sheet_jpeg(np.stack([_square(p) for p in shown])), "image/jpeg")}">' if shown else "")
        parts.append(f'<div class="sheet"><div>{caption}</div>{img}</div>')
        e["shown"] = len(shown)
    section.examples = examples
    return "\n".join(parts)


def _square(pixels: np.ndarray, side: int = 192) -> np.ndarray:
    from PIL import Image as PILImage

    return np.asarray(PILImage.fromarray(pixels).convert("RGB").resize((side, side), PILImage.BILINEAR))
