"""Plan a recipe at full scale from declared dataset sizes, with none of the data present.

`uvd plan RECIPE --sizes SIZES.yaml` reads, per source of the recipe, how many records it holds
(images, videos, objects, pairs: whatever one record of that source plugin is) and how many go
into one work unit, instead of listing the data. Units are laid out as `uvd run` would cut them
(full units, then the remainder), each unit's sequences and images come from the sequencer's
`predict()` hook or, for a sequencer without one, from the `per_sequence` rule declared here, and
quotas and shares are then computed exactly as for a listed recipe (pipeline/quota.py).

```yaml
sources:
  laion_subset:
    records: 1490000000          # images
    records_per_unit: 10000      # img2dataset's shard size: one tar per unit
    origin: LVM paper, section 3 # free text: where the figure comes from
  coco_detection:
    records: 118287
    records_per_unit: 64
    per_sequence: {records: 8, images: 16}   # 8 (image, boxes) pairs per sequence
```

With a `curation:` block, a source may declare the share of its records curation will drop:
`duplicate_rate` (exact and near duplicates and evaluation matches: reasons `duplicate`,
`near_duplicate`, `eval_contamination`) and `filtered_rate` (reason `filtered`), both fractions of
the source's records (their sum at most 1; `uvd audit` of a sample build measures them). Each unit
loses round(records x rate) records of each kind before its sequences are predicted, so sequences,
tokens, quotas and shares are those of the curated dataset; `records` stays the declared count.
"""

from __future__ import annotations

import fsspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import registry
from ..errors import RecipeError
from ..pipeline.plan import unit_id
from ..recipe import Recipe, SourceSpec
from ..stages import Sequencer
from ..types import MAX_IMAGES_PER_SEQUENCE, WorkUnit
from .planner import Plan, gpu_rate
from ..pipeline.quota import UnitEstimate, assign_quotas

#: source params that say how many records one unit holds, in the order they are looked up
UNIT_SIZE_PARAMS = ("unit_size", "images_per_unit")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PerSequence(_Strict):
    """What one sequence takes and gives, for sequencers that cannot predict themselves."""

    records: int = Field(ge=1, description="records one sequence uses")
    images: int = Field(ge=1, le=MAX_IMAGES_PER_SEQUENCE, description="images in one sequence")


class SourceSize(_Strict):
    records: int = Field(ge=0, description="records the source holds")
    records_per_unit: int | None = Field(default=None, ge=1, description="records per work unit (default: the source's unit_size)")
    per_sequence: PerSequence | None = None
    origin: str | None = Field(default=None, description="where the figure comes from")
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of records curation drops as duplicates")
    filtered_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of records curation's filters drop")

    @model_validator(mode="after")
    def _rates_fit(self) -> SourceSize:
        if self.duplicate_rate + self.filtered_rate > 1.0:
            raise ValueError(f"duplicate_rate {self.duplicate_rate} + filtered_rate {self.filtered_rate} exceed 1")
        return self



def curation_rates(recipe: Recipe, name: str, size: SourceSize) -> tuple[float, float]:
    """The declared (duplicate, filtered) rates of a source that the recipe's curation can apply:
    duplicates need `dedup` or evaluation sets, filtered records need filters, and a source in
    `skip_sources` loses nothing."""
    cur = recipe.curation
    if cur is None or name in cur.skip_sources:
        return 0.0, 0.0
    return (size.duplicate_rate if (cur.dedup or cur.eval_sets) else 0.0), (size.filtered_rate if cur.filters else 0.0)


def drops(n: int, rates: tuple[float, float]) -> tuple[int, int]:
    """(duplicates, filtered) that the rates take out of a unit of n records."""
    dup = min(n, int(n * rates[0] + 0.5))
    return dup, min(n - dup, int(n * rates[1] + 0.5))


class SizesFile(_Strict):
    sources: dict[str, SourceSize]
    notes: list[str] = Field(default_factory=list)


def load_sizes(path: str) -> SizesFile:
    """Read and validate a sizes file (local path or fsspec URL); errors name the file and field."""
    try:
        with fsspec.open(path, "r", encoding="utf-8") as f:
            data = yaml.safe_load(f.read())
    except FileNotFoundError:
        raise RecipeError(f"{path}: sizes file not found") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    try:
        return SizesFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise RecipeError(f"{path}: invalid sizes file\n  " + "\n  ".join(lines)) from None


def _records_per_unit(spec: SourceSpec, size: SourceSize, origin: str) -> int:
    if size.records_per_unit is not None:
        return size.records_per_unit
    params = registry.load("source", spec.plugin).Params(**spec.params).model_dump()
    for key in UNIT_SIZE_PARAMS:
        if isinstance(params.get(key), int):
            return params[key]
    raise RecipeError(
        f"{origin}: sources.{spec.name}.records_per_unit: source plugin {spec.plugin!r} has no unit size "
        f"parameter ({', '.join(UNIT_SIZE_PARAMS)}); declare how many records one unit holds"
    )


def _predictor(spec: SourceSpec, size: SourceSize, origin: str):
    """(n_records -> (sequences, images), how it was predicted)."""
    seq = registry.create("sequencer", spec.sequencer.plugin, spec.sequencer.params)
    source_params = registry.load("source", spec.plugin).Params(**spec.params).model_dump(mode="json")
    if size.per_sequence is not None:
        rule = size.per_sequence

        def by_rule(n: int) -> tuple[int, int]:
            k = n // rule.records
            return k, k * rule.images

        return by_rule, "declared"
    overridden = type(seq).predict is not Sequencer.predict
    if not overridden and spec.sequencer.plugin != "single":
        raise RecipeError(
            f"{origin}: sources.{spec.name}.per_sequence: sequencer {spec.sequencer.plugin!r} cannot predict "
            "its output; declare per_sequence: {records: R, images: I} (records one sequence uses, its images)"
        )

    def by_sequencer(n: int) -> tuple[int, int]:
        got = seq.predict(n, source_params=source_params)
        if got is None:
            raise RecipeError(f"{origin}: sources.{spec.name}: sequencer {spec.sequencer.plugin!r} cannot predict "
                              f"{n} records; declare per_sequence")
        return int(got[0]), int(got[1])

    return by_sequencer, "sequencer"


def estimates_from_sizes(recipe: Recipe, sizes: SizesFile, origin: str = "sizes") -> list[UnitEstimate]:
    """One estimate per work unit the declared sizes imply, in recipe order."""
    names = {s.name for s in recipe.sources}
    unknown = sorted(set(sizes.sources) - names)
    if unknown:
        raise RecipeError(f"{origin}: sources {unknown} are not in recipe {recipe.name!r}")
    missing = [s.name for s in recipe.sources if s.name not in sizes.sources]
    if missing:
        raise RecipeError(f"{origin}: no declared size for the recipe's sources {missing}")
    estimates: list[UnitEstimate] = []
    for spec in recipe.sources:
        size = sizes.sources[spec.name]
        per_unit = _records_per_unit(spec, size, origin)
        predict, how = _predictor(spec, size, origin)
        full, rest = divmod(size.records, per_unit)
        cache: dict[int, tuple[int, int]] = {}
        counts = [per_unit] * full + ([rest] if rest else [])
        rates = curation_rates(recipe, spec.name, size)
        for i, n in enumerate(counts):
            dup, filtered = drops(n, rates)
            kept = n - dup - filtered
            if kept not in cache:
                cache[kept] = predict(kept)
            sequences, images = cache[kept]
            unit = WorkUnit(unit_id(spec.name, i), spec.name, i, {})
            estimates.append(UnitEstimate(unit, spec, n, sequences, images, how, dropped_duplicates=dup, dropped_filtered=filtered))
    return estimates


def plan_from_sizes(
    recipe: Recipe, sizes: SizesFile, gpu_images_per_s: float | None = None, origin: str = "sizes"
) -> Plan:
    """The plan `uvd plan` prints, from declared sizes: same quotas, shares and GPU-hours."""
    gpu_images_per_s, rate_origin = (gpu_images_per_s, "") if gpu_images_per_s is not None else gpu_rate(recipe.tokenizer)
    if gpu_images_per_s <= 0:
        raise ValueError(f"gpu_images_per_s must be > 0, got {gpu_images_per_s}")
    estimates = estimates_from_sizes(recipe, sizes, origin)
    notes = [f"counts from declared sizes ({origin}); no data was listed"] + list(sizes.notes)
    notes += assign_quotas(recipe, estimates)
    kept_by: dict[str, int] = {}
    whole_by: dict[str, int] = {}
    for e in estimates:
        kept_by[e.spec.name] = kept_by.get(e.spec.name, 0) + (e.kept_sequences or 0)
        whole_by[e.spec.name] = whole_by.get(e.spec.name, 0) + (e.sequences or 0)
    for spec in recipe.sources:
        size = sizes.sources[spec.name]
        kept, whole = kept_by.get(spec.name, 0), whole_by.get(spec.name, 0)
        if whole and kept < whole:
            notes.append(f"source {spec.name!r}: the targets keep {kept:,} of {whole:,} sequences ({kept / whole:.1%})")
        if size.records and not whole:
            notes.append(f"source {spec.name!r}: {size.records:,} records make no sequence")
        rates = curation_rates(recipe, spec.name, size)
        if any(rates):
            notes.append(f"source {spec.name!r}: curation drops {rates[0]:.1%} of its records as duplicates and "
                         f"{rates[1]:.1%} by filters (declared rates); its sequences are predicted from the rest")
        if rates != (size.duplicate_rate, size.filtered_rate):
            notes.append(f"source {spec.name!r}: declared curation rates ignored where the recipe's curation block does "
                         "not apply them (no dedup/eval_sets, no filters, or skip_sources)")
    return Plan(recipe, estimates, gpu_images_per_s, list(dict.fromkeys(notes)), rate_origin)

