"""The curation section of `uvd audit` (docs/CURATION.md, "Audit"): per source, the records the
curation pass dropped by reason, from the rejects tables (already streamed unit by unit by the
report's tally); the cluster pass's figures from `curation/decisions.json` (cluster-size
histogram, pairs, edges); and an estimate of the tokens the drops saved.

Tokens saved are an estimate: a source's dropped records x the tokens one record of that source
yields in this dataset (its tokens / its records used, from the ledger's counts). Shares are of the
tokens the dataset would have had (tokens built + tokens saved), not counting `repeat`: they are
tokenizer work saved. Where targets or max_sequences cap a source, part of the dropped records
would have been left out anyway, so the figure is an upper bound there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..curation.ledger import DECISIONS_FILE, LEDGER_DIR, read_decisions_summary
from ..manifests.reader import Dataset

REASONS = ("duplicate", "near_duplicate", "eval_contamination", "filtered")
ESTIMATE = ("tokens saved = records dropped x (tokens / records used) of the same source in this dataset; "
            "share of tokens built + saved, before repeat; an upper bound where quotas cap the source")


@dataclass
class CurationSection:
    by_source: list[dict[str, Any]]
    totals: dict[str, Any]
    cluster_sizes: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    decided: bool = True  # decisions.json is there and checks out
    estimate: str = ESTIMATE
    examples: list[dict[str, Any]] = field(default_factory=list)  # filled by the HTML report

    def to_dict(self) -> dict[str, Any]:
        return {"by_source": self.by_source, "totals": self.totals, "cluster_sizes": self.cluster_sizes,
                "stats": self.stats, "settings": self.settings, "decided": self.decided, "estimate": self.estimate}


def has_curation(ds: Dataset) -> bool:
    return ds.store.exists(DECISIONS_FILE) or ds.store.exists(LEDGER_DIR)


def curation_section(ds: Dataset, rejects: list[dict[str, Any]], recipe: dict[str, Any],
                     built: dict[str, dict[str, int]] | None = None) -> CurationSection | None:
    """The section, or None when the output has no curation files. `rejects` are the report's
    {source, reason, records} rows (distinct records per unit, summed); `built` the ledger's tokens
    and records used per source when the caller summed them already (the report's tally; else the
    ledger is streamed here)."""
    if not has_curation(ds):
        return None
    if built is None:
        built = {}
        for e in ds.iter_entries():
            c = built.setdefault(e["source"], {"tokens": 0, "records_used": 0})
            c["tokens"] += int(e["counts"]["tokens"])
            c["records_used"] += int(e["counts"]["records_used"])
    dropped: dict[str, dict[str, int]] = {}
    for r in rejects:
        if r["reason"] in REASONS:
            dropped.setdefault(r["source"], dict.fromkeys(REASONS, 0))[r["reason"]] += int(r["records"])
    rows = []
    for source in sorted(set(built) | set(dropped)):
        b = built.get(source, {"tokens": 0, "records_used": 0})
        d = dropped.get(source, dict.fromkeys(REASONS, 0))
        rows.append(_row(source, d, b["tokens"], b["records_used"]))
    totals = {reason: sum(r[reason] for r in rows) for reason in REASONS}
    totals["dropped"] = sum(r["dropped"] for r in rows)
    totals["tokens"] = sum(r["tokens"] for r in rows)
    totals["tokens_saved"] = sum(r["tokens_saved"] or 0 for r in rows)
    whole = totals["tokens"] + totals["tokens_saved"]
    totals["saved_share"] = totals["tokens_saved"] / whole if whole else 0.0
    summary = read_decisions_summary(ds.store)
    stats = dict(summary.get("stats", {})) if summary else {}
    sizes = stats.pop("cluster_sizes", {}) or {}
    cur = recipe.get("curation") or {}
    settings = {
        "dedup": bool(cur.get("dedup", False)), "threshold": cur.get("threshold"),
        "eval_sets": [e.get("name") for e in cur.get("eval_sets", [])],
        "filters": [f.get("plugin") for f in cur.get("filters", [])], "skip_sources": list(cur.get("skip_sources", [])),
    }
    return CurationSection(rows, totals, dict(sizes), stats, settings, decided=summary is not None)


def _row(source: str, dropped: dict[str, int], tokens: int, records_used: int) -> dict[str, Any]:
    n = sum(dropped.values())
    per_record = tokens / records_used if records_used else None
    saved = round(n * per_record) if per_record is not None else None
    whole = tokens + (saved or 0)
    return {"source": source, **dropped, "dropped": n, "tokens": tokens, "records_used": records_used,
            "tokens_per_record": per_record, "tokens_saved": saved,
            "saved_share": (saved / whole if whole else 0.0) if saved is not None else None}


def render_curation(section: CurationSection, console: Any) -> None:
    from rich.table import Table

    from .fmt import fmt_int, fmt_share

    table = Table(title="curation: records dropped before the build, by source and reason")
    cols = ["source", *REASONS, "dropped", "tokens/record", "tokens saved (est.)", "saved share"]
    for col in cols:
        table.add_column(col, justify="left" if col == "source" else "right")
    for r in section.by_source + [{"source": "total", **section.totals, "tokens_per_record": None}]:
        per = f"{r['tokens_per_record']:,.0f}" if r.get("tokens_per_record") is not None else ""
        table.add_row(r["source"], *(fmt_int(r[k]) for k in REASONS), fmt_int(r["dropped"]), per,
                      fmt_int(r["tokens_saved"]) if r["tokens_saved"] is not None else "?",
                      fmt_share(r["saved_share"]), style="bold" if r["source"] == "total" else None)
    console.print(table)
    s = section.settings
    console.print(f"curation settings: dedup {s['dedup']}, threshold {s['threshold']}, eval sets "
                  f"{', '.join(s['eval_sets']) or 'none'}, filters {', '.join(s['filters']) or 'none'}"
                  + (f", skipped {', '.join(s['skip_sources'])}" if s["skip_sources"] else ""), highlight=False)
    if section.cluster_sizes:
        hist = ", ".join(f"{k}: {v:,}" for k, v in section.cluster_sizes.items())
        console.print(f"clusters by size (records): {hist}; {section.stats.get('clusters', 0):,} clusters, "
                      f"{section.stats.get('edges', 0):,} confirmed pairs of {section.stats.get('pairs_compared', 0):,} "
                      "compared", highlight=False)
    if not section.decided:
        console.print("[yellow]note:[/] curation/decisions.json is missing or fails its checksum: "
                      "cluster figures unavailable (`uvd verify`)", highlight=False)
    console.print(f"[yellow]note:[/] {section.estimate}", highlight=False)
