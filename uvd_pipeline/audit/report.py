"""`uvd audit`: what a committed dataset holds, by category, source, task and split; token shares
against targets (a named set or the recipe's) with the deviation; rejects by reason.

Shares are of tokens x repeat (what a trainer sees per epoch), so a source's `repeat` counts.
Everything is computed from the committed manifests and rejects with Arrow group-bys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..manifests.reader import Dataset
from ..types import CATEGORIES
from .fmt import fmt_int, fmt_share  # noqa: F401 (re-exported: planner, html)
from .targets import ShareRow, target_set

DEFAULT_TOLERANCE = 0.1
GROUPS = ("category", "source", "task", "split")




@dataclass
class AuditRow(ShareRow):
    key: str
    sequences: int = 0
    images: int = 0
    tokens: int = 0
    effective_tokens: int = 0
    test_sequences: int = 0
    share: float = 0.0
    target: float | None = None
    within: bool | None = None  # None: no target


@dataclass
class AuditReport:
    root: str
    groups: dict[str, list[AuditRow]]
    totals: AuditRow
    rejects: list[dict[str, Any]]  # {source, reason, records}
    lengths: list[dict[str, Any]]  # {task, n_images, sequences}
    targets_name: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    random_weights: bool = False
    notes: list[str] = field(default_factory=list)
    psnr: dict[str, dict[str, float]] = field(default_factory=dict)
    leaked_images: list[str] = field(default_factory=list)  # image ids in both a test and a train sequence
    near_leaks: Any = None  # audit/leaks.py SplitLeaks: test records near-duplicating training records
    curation: Any = None  # audit/curation.py CurationSection, when the output has curation files

    @property
    def out_of_tolerance(self) -> list[AuditRow]:
        return [r for r in self.groups["category"] if r.within is False]

    def rejects_by_reason(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for r in self.rejects:
            counts[r["reason"]] = counts.get(r["reason"], 0) + r["records"]
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "targets": self.targets_name,
            "tolerance": self.tolerance,
            "random_weights": self.random_weights,
            "totals": self.totals.to_dict(),
            "by": {g: [r.to_dict() for r in rows] for g, rows in self.groups.items()},
            "rejects": self.rejects,
            "rejects_by_reason": dict(self.rejects_by_reason()),
            "sequence_lengths": self.lengths,
            "out_of_tolerance": [r.key for r in self.out_of_tolerance],
            "leaked_images": len(self.leaked_images),
            "leaked_image_examples": self.leaked_images[:10],
            "split_near_duplicates": self.near_leaks.to_dict() if self.near_leaks is not None else None,
            "curation": self.curation.to_dict() if self.curation is not None else None,
            "psnr": self.psnr,
            "notes": self.notes,
        }


def resolve_targets(choice: str | None, recipe: dict[str, Any]) -> tuple[str | None, dict[str, float] | None, float | None]:
    """(name, normalised shares, tolerance from the recipe) for --targets uvdv1|recipe|none."""
    from ..recipe import TargetSpec

    raw = recipe.get("targets")
    if choice in (None, "auto"):
        choice = "recipe" if raw else "none"
    if choice == "none":
        return None, None, None
    if choice == "recipe":
        if not raw:
            raise ValueError("--targets recipe: this dataset's recipe has no `targets:`")
        spec = TargetSpec.model_validate(raw)
        return "recipe" + (f" ({spec.preset})" if spec.preset else ""), spec.resolved(), spec.tolerance
    return choice, target_set(choice), None


def build_report(
    root: str, targets: str | None = "auto", tolerance: float | None = None, dataset: Dataset | None = None
) -> AuditReport:
    from ..exports.previews import resolved_recipe

    ds = dataset or Dataset(root)
    resolved = resolved_recipe(ds)
    recipe = resolved.get("recipe", {})
    repeat = {s["name"]: int(s.get("repeat", 1)) for s in recipe.get("sources", [])}
    name, shares, recipe_tol = resolve_targets(targets, recipe)
    tol = tolerance if tolerance is not None else (recipe_tol if recipe_tol is not None else DEFAULT_TOLERANCE)

    counts, lengths, reject_rows, test_ids, built = _tally(ds)
    leaked = split_leaks(ds, test_ids)
    from ..recipe import DEFAULT_DEDUP_THRESHOLD
    from .leaks import split_leaks_by_signature

    near = split_leaks_by_signature(ds, int((recipe.get("curation") or {}).get("threshold", DEFAULT_DEDUP_THRESHOLD)))
    groups: dict[str, dict[str, AuditRow]] = {g: {} for g in GROUPS}
    if shares:
        for cat in shares:
            groups["category"][cat] = AuditRow(cat)
    totals = AuditRow("total")
    for c in counts:
        eff = int(c["n_tokens_sum"]) * repeat.get(c["source"], 1)
        for g in GROUPS:
            _add(groups[g].setdefault(c[g], AuditRow(c[g])), c, eff)
        _add(totals, c, eff)
    for rows in groups.values():
        for r in rows.values():
            r.share = r.effective_tokens / totals.effective_tokens if totals.effective_tokens else 0.0
    totals.share = 1.0 if totals.effective_tokens else 0.0
    if shares:
        for r in groups["category"].values():
            r.target = shares.get(r.key, 0.0)
            r.within = within_tolerance(r.share, r.target, tol)
    ordered = {
        g: [rows[k] for k in (list(CATEGORIES) if g == "category" else sorted(rows)) if k in rows]
        for g, rows in groups.items()
    }
    summary = ds.summary() or {}
    report = AuditReport(
        root=ds.store.url,
        groups=ordered,
        totals=totals,
        rejects=sorted(
            ({"source": r["source"], "reason": r["reason"], "records": r["record_count_distinct"]} for r in reject_rows),
            key=lambda r: (-r["records"], r["source"], r["reason"]),
        ),
        lengths=sorted(({"task": r["task"], "n_images": r["n_images"], "sequences": r["n_tokens_count"]} for r in lengths),
                       key=lambda r: (r["task"], r["n_images"])),
        targets_name=name,
        tolerance=tol,
        random_weights=bool(summary.get("tokenizer", {}).get("random_weights", False)),
        leaked_images=leaked,
        near_leaks=near,
    )
    from .curation import curation_section

    report.curation = curation_section(ds, report.rejects, recipe, built)
    if summary and not summary.get("complete", True):
        t = summary.get("totals", {})
        report.notes.append(f"incomplete dataset: {t.get('units_committed')} of {t.get('units_planned')} units committed")
    if report.random_weights:
        report.notes.append("tokens come from a randomly initialised VQGAN: decoded previews and PSNR are meaningless")
    if any(v > 1 for v in repeat.values()):
        report.notes.append("shares count tokens x repeat: " + ", ".join(f"{k} x{v}" for k, v in repeat.items() if v > 1))
    return report


def _tally(ds: Dataset) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], Any,
                                  dict[str, dict[str, int]]]:
    """In one pass over the units (ledger entry, manifest and rejects read together), summed unit
    by unit: sequence counts per (category, source, task, split), lengths per (task, n_images),
    rejected records per (source, reason) (a record belongs to one unit, so distinct records per
    unit add up), the test split's image ids (for split_leaks) and per source the ledger's tokens
    and records used (for the curation section). Memory for one unit plus the sums."""
    counts: dict[tuple, dict[str, Any]] = {}
    lengths: dict[tuple, dict[str, Any]] = {}
    rejected: dict[tuple, dict[str, Any]] = {}
    built: dict[str, dict[str, int]] = {}
    test_ids = []
    for entry, (m, r) in ds.iter_unit_tables(("manifest", "rejects")):
        b = built.setdefault(entry["source"], {"tokens": 0, "records_used": 0})
        b["tokens"] += int(entry["counts"]["tokens"])
        b["records_used"] += int(entry["counts"]["records_used"])
        if r.num_rows:
            _sum_into(rejected, r, ["source", "reason"], [("record", "count_distinct")])
        if not m.num_rows:
            continue
        _sum_into(counts, m, ["category", "source", "task", "split"],
                  [("n_images", "count"), ("n_images", "sum"), ("n_tokens", "sum")])
        _sum_into(lengths, m, ["task", "n_images"], [("n_tokens", "count")])
        ids = _image_ids(m, "test")
        if len(ids):  # most units have no test sequence: hold nothing for them
            test_ids.append(ids)
    return list(counts.values()), list(lengths.values()), list(rejected.values()), _distinct(test_ids), built


def _sum_into(acc: dict[tuple, dict[str, Any]], table: Any, keys: list[str], aggregates: list[tuple[str, str]]) -> None:
    """Add one unit's group_by(keys).aggregate(aggregates) rows into `acc` (keyed by `keys`)."""
    fields = [f"{column}_{fn}" for column, fn in aggregates]
    for row in table.group_by(keys).aggregate(aggregates).to_pylist():
        into = acc.setdefault(tuple(row[k] for k in keys), {**row, **dict.fromkeys(fields, 0)})
        for f in fields:
            into[f] += row[f]


def _distinct(id_arrays: list[Any]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.unique(pa.chunked_array(id_arrays, pa.string())) if id_arrays else pa.array([], pa.string())


def _image_ids(manifest: Any, split: str) -> Any:
    """The distinct image ids of one unit's sequences in `split`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m = manifest.select(["split", "image_ids"]).filter(pc.equal(manifest["split"], split))
    return pc.unique(pc.list_flatten(m["image_ids"])) if m.num_rows else pa.array([], pa.string())


def split_leaks(ds: Dataset, test_ids: Any = None) -> list[str]:
    """Image ids that appear in a test sequence and in a train sequence (sorted). Memory holds the
    test split's image ids (the small split), not the dataset's; `test_ids` saves the pass that
    collects them when the caller has them (build_report's tally)."""
    import pyarrow.compute as pc

    test = _distinct([_image_ids(m, "test") for m in ds.iter_tables("manifest")]) if test_ids is None else test_ids
    if len(test) == 0:
        return []
    leaked: set[str] = set()
    for m in ds.iter_tables("manifest"):
        train = _image_ids(m, "train")
        leaked.update(pc.filter(train, pc.is_in(train, value_set=test)).to_pylist())
    return sorted(leaked)


def _add(row: AuditRow, c: dict[str, Any], effective: int) -> None:
    row.sequences += int(c["n_images_count"])
    row.images += int(c["n_images_sum"])
    row.tokens += int(c["n_tokens_sum"])
    row.effective_tokens += effective
    if c["split"] == "test":
        row.test_sequences += int(c["n_images_count"])


def near_leak_line(n: Any) -> str:
    """One line on the signature join of the test split against the training split (rich markup)."""
    if not n.available:
        return f"[yellow]near-duplicates test/train:[/] not checked: {n.note}"
    if not n.leaking_test_records:
        return (f"[green]near-duplicates test/train:[/] none of {n.test_records:,} test records is within "
                f"{n.threshold} bits of a training record" + (f" ({n.note})" if n.note else ""))
    e = n.examples[0]
    return (f"[red]near-duplicates test/train:[/] {n.leaking_test_records:,} of {n.test_records:,} test records "
            f"({n.exact_test_records:,} the same image) are within {n.threshold} bits of {n.train_records_matched:,} "
            f"training records, e.g. {e['test_source']}/{e['test_record']} ~ {e['train_source']}/{e['train_record']} "
            f"(distance {e['distance']})")


def within_tolerance(share: float, target: float, tolerance: float) -> bool:
    """|share - target| <= tolerance x target; a zero target allows no share at all."""
    if target == 0:
        return share == 0
    return abs(share - target) <= tolerance * target * (1 + 1e-9)  # the margin absorbs float rounding


def render_report(report: AuditReport, console: Any) -> None:
    from rich.table import Table

    for g in GROUPS:
        has_target = g == "category" and report.targets_name is not None
        title = f"by {g}" + (f" — targets: {report.targets_name}, tolerance ±{report.tolerance:.0%} of target" if has_target else "")
        table = Table(title=title)
        cols = [g, "sequences", "test", "images", "tokens", "tokens x repeat", "share"]
        if g == "split":
            cols.remove("test")
        if has_target:
            cols += ["target", "deviation", ""]
        for col in cols:
            table.add_column(col, justify="left" if col in (g, "") else "right")
        for r in report.groups[g] + [report.totals]:
            cells = [r.key, fmt_int(r.sequences)]
            if g != "split":
                cells.append(fmt_int(r.test_sequences))
            cells += [fmt_int(r.images), fmt_int(r.tokens), fmt_int(r.effective_tokens), fmt_share(r.share)]
            if has_target:
                mark = "" if r.within is None else ("[green]ok[/]" if r.within else "[red]OUT[/]")
                cells += [fmt_share(r.target), fmt_share(r.deviation, signed=True), mark]
            table.add_row(*cells, style="bold" if r.key == "total" else None)
        console.print(table)
    n_test = sum(r.sequences for r in report.groups["split"] if r.key == "test")
    if report.leaked_images:
        console.print(f"[red]held-out split leaks:[/] {len(report.leaked_images):,} image ids are in test and train "
                      f"sequences, e.g. {', '.join(report.leaked_images[:3])}", highlight=False)
    elif n_test:
        console.print(f"[green]held-out split:[/] {n_test:,} test sequences share no image id with train ones")
    if n_test and report.near_leaks is not None:
        console.print(near_leak_line(report.near_leaks), highlight=False)
    table = Table(title="rejects")
    for col in ("source", "reason", "records"):
        table.add_column(col, justify="right" if col == "records" else "left")
    for r in report.rejects:
        table.add_row(r["source"], r["reason"], fmt_int(r["records"]))
    if not report.rejects:
        table.add_row("—", "no rejects", "0")
    console.print(table)
    if report.curation is not None:
        from .curation import render_curation

        render_curation(report.curation, console)
    if report.psnr:
        table = Table(title="decoded vs raw (kept sample)")
        for col in ("task", "sequences", "PSNR dB"):
            table.add_column(col, justify="left" if col == "task" else "right")
        for task, v in report.psnr.items():
            table.add_row(task, str(v["sequences"]), f"{v['psnr_db']:.2f}")
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
