"""`uvd plan`: a dry run of a recipe. Lists the work units and predicts, per source, category and
task, the sequences, images and tokens it will build, the token shares against the targets, and
the GPU-hours of tokenization. Nothing is decoded or tokenized: counts come from listings
(Source.expected_records) and each sequencer's prediction hook (Sequencer.predict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..pipeline.plan import plan_units
from ..recipe import Recipe, TokenizerSpec
from ..types import CATEGORIES
from ..pipeline.quota import UnitEstimate, assign_quotas, estimate_units
from .targets import ShareRow

#: Images/s of the LVM VQGAN encoder on one GPU, by the recipe's compute precision (tokenizer.dtype
#: and tokenizer.tf32), used when `--gpu-images-per-s` is not given. Estimates, not measurements:
#: the encoder costs 216.3 GFLOP per 256x256 image (counted with torch.utils.flop_counter on the LVM
#: architecture, uvd_pipeline.tokenizer.LVM_CONFIG); one H100 SXM peaks at 989 TFLOP/s dense in
#: bf16/fp16, 494.7 in TF32 and 66.9 in IEEE float32 (no tensor cores), and a convolutional
#: encoder is assumed to reach 35 % of the peak of its precision: bf16 989e12 * 0.35 / 216.3e9 ~
#: 1,600 images/s. Replace them with the tokenizer benchmark's measured rates (BENCHMARKS.md)
#: once they are recorded on a GPU.
ENCODER_GFLOP_PER_IMAGE = 216.3
ASSUMED_UTILISATION = 0.35
H100_PEAK_TFLOPS = {"bfloat16": 989.0, "float16": 989.0, "float32+tf32": 494.7, "float32": 66.9}
DEFAULT_GPU_IMAGES_PER_S = 1600.0  # the bf16 estimate (before tokenizer.dtype existed)
GPU_RATE_ORIGIN = "estimate: 216.3 GFLOP/image at 35% of an H100's 989 TFLOP/s bf16"


def gpu_rate(spec: TokenizerSpec) -> tuple[float, str]:
    """The estimated images/s per GPU for a tokenizer's precision, and where the figure comes from."""
    key = "float32+tf32" if spec.dtype == "float32" and spec.tf32 else spec.dtype
    peak = H100_PEAK_TFLOPS[key]
    rate = float(f"{peak * 1e12 * ASSUMED_UTILISATION / (ENCODER_GFLOP_PER_IMAGE * 1e9):.3g}")
    return rate, (f"estimate for tokenizer.dtype {key}: {ENCODER_GFLOP_PER_IMAGE} GFLOP/image at "
                  f"{ASSUMED_UTILISATION:.0%} of an H100's {peak:g} TFLOP/s")


GROUPS = ("source", "category", "task")


@dataclass
class PlanRow(ShareRow):
    key: str
    units: int = 0
    records: int = 0
    sequences: int = 0  # kept after quotas
    images: int = 0
    tokens: int = 0
    effective_tokens: int = 0  # tokens x repeat: what a trainer sees per epoch
    capped_sequences: int = 0  # predicted before quotas
    unknown_units: int = 0  # units whose counts cannot be predicted without reading
    dropped_duplicates: int = 0  # records curation is predicted to drop (declared rates, --sizes)
    dropped_filtered: int = 0
    share: float = 0.0
    target: float | None = None


@dataclass
class Plan:
    recipe: Recipe
    estimates: list[UnitEstimate]
    gpu_images_per_s: float = DEFAULT_GPU_IMAGES_PER_S
    notes: list[str] = field(default_factory=list)
    gpu_rate_origin: str = ""  # where gpu_images_per_s comes from when it was not given
    warnings: list[str] = field(default_factory=list)  # sources predicted to give nothing (source_warnings)

    def rows(self, by: str) -> list[PlanRow]:
        if by not in GROUPS:
            raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
        rows: dict[str, PlanRow] = {}
        if by == "category" and self.recipe.targets:
            for cat in self.recipe.targets.resolved():
                rows[cat] = PlanRow(cat)
        for e in self.estimates:
            key = {"source": e.spec.name, "category": e.spec.category, "task": e.spec.task}[by]
            r = rows.setdefault(key, PlanRow(key))
            r.units += 1
            r.dropped_duplicates += e.dropped_duplicates
            r.dropped_filtered += e.dropped_filtered
            if e.kept_sequences is None:
                r.unknown_units += 1
                r.records += e.records or 0
                continue
            r.records += e.records or 0
            r.sequences += e.kept_sequences
            r.capped_sequences += e.sequences or 0
            r.images += e.kept_images or 0
            r.tokens += e.kept_tokens or 0
            r.effective_tokens += (e.kept_tokens or 0) * e.spec.repeat
        total = sum(r.effective_tokens for r in rows.values())
        targets = self.recipe.targets.resolved() if (by == "category" and self.recipe.targets) else {}
        for r in rows.values():
            r.share = r.effective_tokens / total if total else 0.0
            if by == "category" and self.recipe.targets:
                r.target = targets.get(r.key, 0.0)
        order = list(CATEGORIES) if by == "category" else sorted(rows)
        return [rows[k] for k in order if k in rows]

    @property
    def totals(self) -> PlanRow:
        t = PlanRow("total")
        for r in self.rows("source"):
            for f in ("units", "records", "sequences", "images", "tokens", "effective_tokens", "capped_sequences", "unknown_units",
                      "dropped_duplicates", "dropped_filtered"):
                setattr(t, f, getattr(t, f) + getattr(r, f))
        t.share = 1.0 if t.effective_tokens else 0.0
        return t

    @property
    def curated(self) -> bool:
        """Whether curation is predicted to drop anything (declared rates of a sizes file)."""
        return any(e.dropped_duplicates or e.dropped_filtered for e in self.estimates)

    @property
    def gpu_hours(self) -> float:
        """Tokenization time: every kept image is encoded once (repeats are not re-encoded)."""
        return self.totals.images / self.gpu_images_per_s / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            "fingerprint": self.recipe.fingerprint(),
            "gpu_images_per_s": self.gpu_images_per_s,
            "gpu_rate_origin": self.gpu_rate_origin or "given",
            "gpu_hours": self.gpu_hours,
            "totals": self.totals.to_dict() | {"dropped_share": _dropped_share(self.totals)},
            "by": {g: [r.to_dict() | {"dropped_share": _dropped_share(r)} for r in self.rows(g)] for g in GROUPS},
            "units": [
                {
                    "unit": e.unit.id, "source": e.spec.name, "records": e.records, "sequences": e.kept_sequences,
                    "images": e.kept_images, "tokens": e.kept_tokens, "quota": e.quota, "predicted_by": e.predicted_by,
                    "dropped_duplicates": e.dropped_duplicates, "dropped_filtered": e.dropped_filtered,
                }
                for e in self.estimates
            ],
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _dropped_share(r: PlanRow) -> float:
    """Records curation is predicted to drop, as a share of the declared records."""
    return (r.dropped_duplicates + r.dropped_filtered) / r.records if r.records else 0.0


def make_plan(recipe: Recipe, gpu_images_per_s: float | None = None, threads: int = 8) -> Plan:
    """Plan a recipe: the same units `uvd run` would process, with predicted counts and quotas.
    Without `gpu_images_per_s`, the estimate for the recipe's tokenizer precision (gpu_rate)."""
    gpu_images_per_s, origin = (gpu_images_per_s, "") if gpu_images_per_s is not None else gpu_rate(recipe.tokenizer)
    if gpu_images_per_s <= 0:
        raise ValueError(f"gpu_images_per_s must be > 0, got {gpu_images_per_s}")
    units = plan_units(recipe, with_quotas=False)  # the same units; quotas computed here, with notes
    estimates = estimate_units(recipe, units, threads=threads)
    notes = assign_quotas(recipe, estimates)
    for e in estimates:
        if e.predicted_by == "default":
            notes.append(
                f"source {e.spec.name!r}: sequencer {e.spec.sequencer.plugin!r} has no predict(); "
                "assumed one single-image sequence per record"
            )
        elif e.predicted_by == "unknown":
            notes.append(f"source {e.spec.name!r}: counts of unit {e.unit.id} cannot be predicted without reading it")
    plan = Plan(recipe, estimates, gpu_images_per_s, list(dict.fromkeys(notes)), origin)
    plan.warnings = source_warnings(plan)
    return plan


def source_warnings(plan: Plan) -> list[str]:
    """Sources predicted to give no sequence: their listings hold no record, or the sequencer
    cannot fill one sequence from the records of a unit (e.g. 4 COCO images, `pairs` needs 8)."""
    from ..pipeline.reject_hints import grouping_hint

    out = []
    rows = {r.key: r for r in plan.rows("source")}
    for index, spec in enumerate(plan.recipe.sources):
        r = rows.get(spec.name)
        if r is None or not r.units:
            out.append(f"source {spec.name!r} ({spec.plugin}) lists no input: 0 units planned. To change: "
                       f"sources[{index}].params (a wrong or empty path?); `uvd plugins show {spec.plugin}` shows its layout")
        elif r.unknown_units == 0 and r.capped_sequences == 0 and r.records == 0:
            out.append(f"source {spec.name!r} ({spec.plugin}) lists 0 records in {r.units} unit(s). To change: "
                       f"sources[{index}].params; `uvd plugins show {spec.plugin}` shows its layout")
        elif r.unknown_units == 0 and r.capped_sequences == 0:
            out.append(f"source {spec.name!r} ({spec.plugin}): 0 sequences predicted from {r.records:,} records "
                       f"(sequencer {spec.sequencer.plugin!r}, {r.units} unit(s)); every record would be rejected "
                       f"as incomplete_sequence. To change: {grouping_hint(spec, index)}")
    return out


def _hours(hours: float) -> str:
    if hours >= 0.01:
        return f"{hours:,.2f} GPU-hours"
    return f"{hours * 3600:,.2f} GPU-seconds ({hours:.1e} GPU-hours)"


def render_plan(plan: Plan, console: Any, show_units: bool = False) -> None:
    """Rich tables: units (optional), then per source, category and task, then the GPU estimate."""
    from rich.markup import escape
    from rich.table import Table

    from .report import fmt_int, fmt_share

    if show_units:
        table = Table(title="work units")
        for col in ("unit", "source", "records", "sequences", "images", "quota", "predicted by"):
            table.add_column(col, justify="left" if col in ("unit", "source", "predicted by") else "right")
        for e in plan.estimates:
            table.add_row(e.unit.id, e.spec.name, fmt_int(e.records), fmt_int(e.kept_sequences), fmt_int(e.kept_images),
                          fmt_int(e.quota), e.predicted_by)
        console.print(table)
    for by in GROUPS:
        rows = plan.rows(by)
        has_target = by == "category" and plan.recipe.targets is not None
        table = Table(title=f"predicted by {by}")
        cols = [by, "units", "records", "sequences", "images", "tokens", "tokens x repeat", "share"]
        if by == "source":
            cols.insert(4, "before quota")
        if plan.curated:
            cols.insert(3, "curated out")
        if has_target:
            cols += ["target", "deviation"]
        for col in cols:
            table.add_column(col, justify="left" if col == by else "right")
        for r in rows + [plan.totals]:
            cells = [r.key, fmt_int(r.units), fmt_int(r.records)]
            if plan.curated:
                out = r.dropped_duplicates + r.dropped_filtered
                cells.append(f"{out:,} ({_dropped_share(r):.1%})" if out else "0")
            cells.append(fmt_int(r.sequences))
            if by == "source":
                cells.append(fmt_int(r.capped_sequences))
            cells += [fmt_int(r.images), fmt_int(r.tokens), fmt_int(r.effective_tokens), fmt_share(r.share)]
            if has_target:
                cells += [fmt_share(r.target), fmt_share(r.deviation, signed=True)]
            if r.unknown_units:
                cells[0] += f" [yellow]({r.unknown_units} units unknown)[/]"
            table.add_row(*cells, style="bold" if r.key == "total" else None)
        console.print(table)
    t = plan.totals
    console.print(
        f"tokenization: {t.images:,} images at {plan.gpu_images_per_s:,.0f} images/s per GPU = "
        f"[bold]{_hours(plan.gpu_hours)}[/]"
        + (f" ({plan.gpu_rate_origin})" if plan.gpu_rate_origin else ""),
        highlight=False,
    )
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
