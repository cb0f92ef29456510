"""Predicted counts per work unit, and the per-source quotas that composition control implies.

Counts come from listings (Source.expected_records, by default count_records) and the sequencer's prediction hook
(Sequencer.predict); nothing is decoded or tokenized. Quotas come from `max_sequences` and, where
the recipe has `targets` with `enforce`, from the target token shares. A source's quota is spread
over its units in proportion to their predicted sequences (largest remainder, ties by unit index)
and written into each unit's payload under QUOTA_KEY, so every engine and worker count keeps the
same sequences: which ones a unit keeps is decided by hashing their ids (pipeline/build.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import registry
from ..recipe import Recipe, SourceSpec
from ..stages import Sequencer, Source
from ..types import TOKENS_PER_IMAGE, WorkUnit

#: payload key that carries a unit's quota (sequences it may keep) from the plan to the build
QUOTA_KEY = "_uvd_max_sequences"


@dataclass
class UnitEstimate:
    unit: WorkUnit
    spec: SourceSpec
    records: int | None  # None: the source cannot count without reading
    sequences: int | None  # predicted before any quota
    images: int | None
    predicted_by: str  # "sequencer" (its own predict), "default" (one per record), "unknown"
    quota: int | None = None  # sequences this unit may keep; None: no cap
    # records a declared curation rate takes out before sequencing (audit/sizes.py); `records` counts them
    dropped_duplicates: int = 0
    dropped_filtered: int = 0

    @property
    def kept_sequences(self) -> int | None:
        if self.sequences is None or self.quota is None:
            return self.sequences
        return min(self.sequences, self.quota)

    @property
    def kept_images(self) -> int | None:
        if self.images is None or self.sequences is None:
            return None
        if not self.sequences:
            return 0
        return round(self.images * (self.kept_sequences or 0) / self.sequences)

    @property
    def kept_tokens(self) -> int | None:
        return None if self.kept_images is None else self.kept_images * TOKENS_PER_IMAGE


def estimate_units(recipe: Recipe, units: list[WorkUnit], threads: int = 8) -> list[UnitEstimate]:
    """Predicted records, sequences and images of every unit (counting runs in threads: it is I/O)."""
    sources: dict[str, Source] = {}
    sequencers: dict[str, Sequencer] = {}
    for spec in recipe.sources:
        sources[spec.name] = registry.create_source(spec.plugin, spec.params, recipe.seed)  # type: ignore[assignment]
        sequencers[spec.name] = registry.create("sequencer", spec.sequencer.plugin, spec.sequencer.params)  # type: ignore[assignment]

    def one(unit: WorkUnit) -> UnitEstimate:
        spec = recipe.source(unit.source)
        source, seq = sources[unit.source], sequencers[unit.source]
        payload = {k: v for k, v in unit.payload.items() if k != QUOTA_KEY}
        records = source.expected_records(payload)
        if records is None:
            return UnitEstimate(unit, spec, None, None, None, "unknown")
        got = seq.predict(records, source_params=source.params_dict)
        if got is None:
            return UnitEstimate(unit, spec, records, None, None, "unknown")
        overridden = type(seq).predict is not Sequencer.predict
        by = "sequencer" if overridden or spec.sequencer.plugin == "single" else "default"
        return UnitEstimate(unit, spec, records, int(got[0]), int(got[1]), by)

    if len(units) <= 1 or threads <= 1:
        return [one(u) for u in units]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, units))


def _round(x: float) -> int:
    return int(x + 0.5)


def source_quotas(recipe: Recipe, estimates: list[UnitEstimate]) -> tuple[dict[str, int], list[str]]:
    """Sequences each capped source may keep, and notes on what could not be planned.

    Order: `max_sequences` first; then, with `targets.enforce`, the largest dataset whose
    per-category token shares (tokens x repeat) meet the targets, each category's budget split
    among its sources by `weight` (a source that has less than its part gives the rest to the
    others of its category)."""
    notes: list[str] = []
    seqs: dict[str, int] = {}
    tokens: dict[str, float] = {}
    unknown: set[str] = set()
    for e in estimates:
        name = e.spec.name
        if e.sequences is None:
            unknown.add(name)
            continue
        seqs[name] = seqs.get(name, 0) + e.sequences
        tokens[name] = tokens.get(name, 0) + (e.images or 0) * TOKENS_PER_IMAGE
    quotas: dict[str, int] = {}
    for spec in recipe.sources:
        if spec.max_sequences is not None:
            quotas[spec.name] = spec.max_sequences if spec.name in unknown else min(spec.max_sequences, seqs.get(spec.name, 0))
    targets = recipe.targets
    if targets is None or not targets.enforce:
        return quotas, notes
    for name in sorted(unknown):
        notes.append(f"source {name!r}: counts unknown without reading; left out of the target quotas")
    # Effective tokens each source can give after max_sequences, and tokens per kept sequence.
    avail: dict[str, float] = {}
    per_seq: dict[str, float] = {}
    for spec in recipe.sources:
        n = seqs.get(spec.name, 0)
        if spec.name in unknown or n == 0:
            continue
        per_seq[spec.name] = tokens[spec.name] / n * spec.repeat
        avail[spec.name] = per_seq[spec.name] * min(n, quotas.get(spec.name, n))
    shares = targets.resolved()
    by_cat: dict[str, list[SourceSpec]] = {}
    for spec in recipe.sources:
        if spec.name in avail:
            by_cat.setdefault(spec.category, []).append(spec)
    for cat, specs in by_cat.items():
        if shares.get(cat, 0.0) == 0.0:
            notes.append(f"category {cat!r} has no target share: its sources {', '.join(s.name for s in specs)} get quota 0")
            for s in specs:
                quotas[s.name] = 0
    live = {c: sum(avail[s.name] for s in specs) for c, specs in by_cat.items() if shares.get(c, 0.0) > 0}
    for cat, share in shares.items():
        if share > 0 and not live.get(cat):
            notes.append(f"category {cat!r} has a target of {share:.2%} but no source predicts data for it")
    live = {c: a for c, a in live.items() if a > 0}
    if not live:
        return quotas, notes
    total_share = sum(shares[c] for c in live)
    scale = min(a / (shares[c] / total_share) for c, a in live.items())  # the largest total that fits
    for cat in live:
        budget = shares[cat] / total_share * scale
        for name, tok in _water_fill(budget, by_cat[cat], avail).items():
            q = min(seqs[name], _round(tok / per_seq[name]))
            quotas[name] = min(q, quotas.get(name, q))
    return quotas, notes


def _water_fill(budget: float, specs: list[SourceSpec], avail: dict[str, float]) -> dict[str, float]:
    """Split `budget` by weight; a source capped at what it has passes the rest to the others."""
    out: dict[str, float] = {}
    active = sorted(specs, key=lambda s: s.name)
    while active:
        weights = sum(s.weight for s in active)
        capped = [s for s in active if budget * s.weight / weights >= avail[s.name]]
        if not capped:
            out.update({s.name: budget * s.weight / weights for s in active})
            break
        for s in capped:
            out[s.name] = avail[s.name]
            budget -= avail[s.name]
        active = [s for s in active if s not in capped]
    return out


def allot(quota: int, estimates: list[UnitEstimate]) -> list[int]:
    """A source's quota spread over its units in proportion to predicted sequences (records where
    the sequencer cannot predict), by largest remainder; ties go to the lower unit index."""
    sizes = [e.sequences if e.sequences is not None else (e.records or 0) for e in estimates]
    total = sum(sizes)
    if total == 0:
        return [0] * len(estimates)
    quota = min(quota, total) if all(e.sequences is not None for e in estimates) else quota
    exact = [quota * n / total for n in sizes]
    shares = [int(x) for x in exact]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - shares[i]), estimates[i].unit.index))
    for i in order[: quota - sum(shares)]:
        shares[i] += 1
    return shares


def assign_quotas(recipe: Recipe, estimates: list[UnitEstimate]) -> list[str]:
    """Set `quota` on every unit estimate of a capped source; returns the planning notes."""
    quotas, notes = source_quotas(recipe, estimates)
    by_source: dict[str, list[UnitEstimate]] = {}
    for e in estimates:
        by_source.setdefault(e.spec.name, []).append(e)
    for name, quota in quotas.items():
        ests = sorted(by_source.get(name, []), key=lambda e: e.unit.index)
        if all(e.sequences is not None for e in ests) and quota >= sum(e.sequences for e in ests):
            continue  # the cap does not bite: leave the units uncapped
        for e, q in zip(ests, allot(quota, ests)):
            e.quota = q
    return notes


def needs_quotas(recipe: Recipe) -> bool:
    return any(s.max_sequences is not None for s in recipe.sources) or bool(recipe.targets and recipe.targets.enforce)


def apply_quotas(recipe: Recipe, units: list[WorkUnit]) -> list[WorkUnit]:
    """Write each capped unit's quota into its payload (pipeline.plan.plan_units calls this)."""
    if not needs_quotas(recipe):
        return units
    estimates = estimate_units(recipe, units)
    assign_quotas(recipe, estimates)
    for e in estimates:
        if e.quota is not None:
            e.unit.payload[QUOTA_KEY] = e.quota
    return units
