"""The end of a run says what a source gave: a source that yields no sequence, or loses most of its
records to one reject reason, is named with its top reasons and the recipe field to change.

Read after the run from what it committed (the ledger's counts per unit and the rejects roll-up
that `write_dataset_summary` just brought up to date), so a resumed run judges the whole dataset.
`uvd run` prints the warnings and exits 1 under `--strict` when there are any.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..manifests.reader import Dataset
from ..manifests.rollup import read_rollup
from ..pipeline.reject_hints import hint
from ..recipe import Recipe

#: a source is flagged when one reason takes at least this share of the records it read
MOSTLY = 0.5
TOP_REASONS = 3


@dataclass
class SourceOutcome:
    source: str
    plugin: str
    units: int
    records_read: int
    records_used: int
    sequences: int
    reasons: list[tuple[str, int]] = field(default_factory=list)  # (reason, reject rows), most first
    problem: str = ""  # "", "empty" (no sequence), "mostly_rejected"
    change: str = ""  # what to change in the recipe

    @property
    def message(self) -> str:
        top = ", ".join(f"{r} {n:,}" for r, n in self.reasons[:TOP_REASONS]) or "no rejects"
        if self.problem == "empty" and not self.records_read:
            what = f"source {self.source!r} ({self.plugin}) read no records ({self.units} unit(s))"
        elif self.problem == "empty":
            what = (f"source {self.source!r} ({self.plugin}) gave 0 sequences from {self.records_read:,} records "
                    f"read; top reject reasons: {top}")
        else:
            lost = self.records_read - self.records_used
            what = (f"source {self.source!r} ({self.plugin}) lost {lost:,} of {self.records_read:,} records "
                    f"({lost / self.records_read:.0%}); top reject reasons: {top}")
        return f"{what}. To change: {self.change}"

    def to_dict(self) -> dict[str, Any]:
        got = asdict(self)
        got["reasons"] = dict(self.reasons)
        got["message"] = self.message
        return got


def _reject_rows(ds: Dataset) -> dict[str, dict[str, int]]:
    """source -> reason -> reject rows, from the rejects roll-up (a few columns per 1,000 units)."""
    counts: dict[str, dict[str, int]] = {}
    for table in read_rollup(ds.store, "rejects", ["source", "reason"]):
        if not table.num_rows:
            continue
        for row in table.group_by(["source", "reason"]).aggregate([("reason", "count")]).to_pylist():
            per = counts.setdefault(row["source"], {})
            per[row["reason"]] = per.get(row["reason"], 0) + row["reason_count"]
    return counts


def source_outcomes(out: str, recipe: Recipe, failed_units: list[str] | tuple[str, ...] = ()) -> list[SourceOutcome]:
    """Every source of `recipe` with what its committed units gave; `problem` set where a user
    must look (no sequences, or most records lost to one reason). A source with no committed unit
    is empty unless one of its units failed (`failed_units`: those are reported as failures)."""
    failed = {u.rsplit("-", 1)[0] for u in failed_units}
    ds = Dataset(out)
    totals: dict[str, dict[str, int]] = {}
    for entry in ds.iter_entries():  # streamed: no copy of the whole ledger
        t = totals.setdefault(entry["source"], {"units": 0, "records_read": 0, "records_used": 0, "sequences": 0})
        t["units"] += 1
        for key in ("records_read", "records_used", "sequences"):
            t[key] += int(entry["counts"][key])
    rejects = _reject_rows(ds)
    outcomes = []
    for index, spec in enumerate(recipe.sources):
        t = totals.get(spec.name)
        if t is None and spec.name in failed:  # reported as failed units
            continue
        t = t or {"units": 0, "records_read": 0, "records_used": 0, "sequences": 0}  # no unit planned
        reasons = sorted(rejects.get(spec.name, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        o = SourceOutcome(spec.name, spec.plugin, t["units"], t["records_read"], t["records_used"], t["sequences"], reasons)
        if not o.units:
            o.problem = "empty"
            o.change = (f"sources[{index}].params: the source found no input to read (a wrong or empty path?); "
                        f"`uvd plugins show {spec.plugin}` shows the layout it expects")
            outcomes.append(o)
            continue
        if o.sequences == 0:
            o.problem = "empty"
        elif reasons and o.records_read and reasons[0][1] >= MOSTLY * o.records_read:
            o.problem = "mostly_rejected"
        if o.problem:
            o.change = (hint(reasons[0][0], spec, index) if reasons else
                        f"check sources[{index}].params (`uvd plugins show {spec.plugin}` lists them and the layout it reads)")
        outcomes.append(o)
    return outcomes


def warnings(outcomes: list[SourceOutcome]) -> list[SourceOutcome]:
    return [o for o in outcomes if o.problem]
