"""Per-unit steps after the signatures: apply the filters' thresholds to the stored scores, and
merge the filter and cluster verdicts into the unit's committed decision file."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import registry
from ..manifests.reader import read_arrow
from ..manifests.store import OutputStore, content_name
from ..manifests.writer import arrow_bytes
from ..recipe import Recipe
from .ledger import DECISIONS_DIR, DROP_SCHEMA, EXCHANGE_DIR, read_checked
from .signatures import BAD_INPUT

REASONS = ("duplicate", "near_duplicate", "eval_contamination", "filtered")  # FORMAT.md, rejects


def make_filters(recipe: Recipe) -> list:
    """The recipe's filter plugins, set up."""
    filters = [registry.create("filter", f.plugin, f.params) for f in recipe.curation.filters]
    for f in filters:
        f.setup()
    return filters


def filter_unit(args: dict[str, Any]) -> dict[str, Any]:
    """Apply the recipe's filter thresholds to one unit's stored scores. Writes the unit's cluster
    input (its signature rows minus filtered records) and its filtered records under the exchange
    folder; returns where they are and how many records the filters dropped."""
    recipe = Recipe.model_validate(args["recipe"])
    store = OutputStore(args["store"])
    entry = args["entry"]
    table = read_checked(store, entry["file"])
    out: dict[str, Any] = {"unit": entry["unit"], "source": entry["source"], "role": entry["role"],
                           "input": entry["file"]["path"], "filtered": 0, "filtered_path": None}
    filters = make_filters(recipe) if recipe.curation.filters else []
    if not filters or table.num_rows == 0:
        out["input"] = entry["file"]["path"] if table.num_rows else None
        return out
    detail: dict[str, str] = {}
    for rec, scores in zip(table.column("record").to_pylist(), table.column("scores").to_pylist()):
        if rec in detail:
            continue
        parsed = json.loads(scores)
        for f in filters:
            mine = parsed.get(f.name, {})
            verdict = f"{f.name}: cannot score the image ({mine[BAD_INPUT]})" if BAD_INPUT in mine else f.check(mine)
            if verdict:  # a record is filtered when any of its images fails any filter
                detail[rec] = verdict
                break
    if not detail:
        return out
    store.makedirs(f"{EXCHANGE_DIR}/filters")
    base = f"{EXCHANGE_DIR}/filters/{entry['unit']}-{entry['file']['sha256'][:16]}"
    kept = table.filter(pc.invert(pc.is_in(table.column("record"), pa.array(sorted(detail)))))
    store.write_bytes(f"{base}.filtered.arrow", arrow_bytes(pa.table(
        {"record": sorted(detail), "detail": [detail[r] for r in sorted(detail)]})))
    out["filtered"], out["filtered_path"] = len(detail), f"{base}.filtered.arrow"
    if kept.num_rows:
        store.write_bytes(f"{base}.input.arrow", arrow_bytes(kept))
        out["input"] = f"{base}.input.arrow"
    else:
        out["input"] = None
    return out


def decide_unit(args: dict[str, Any]) -> dict[str, Any]:
    """Merge a training unit's filtered records and cluster verdicts into its decision file
    (record, reason, detail), committed under a content-addressed name; returns its file info."""
    store = OutputStore(args["store"])
    rows: dict[str, dict[str, Any]] = {}
    if args.get("filtered"):
        t = read_arrow(store.read_bytes(args["filtered"])).to_pydict()
        for rec, why in zip(t["record"], t["detail"]):
            rows[rec] = {"record": rec, "reason": "filtered", "detail": why}
    if args.get("clustered"):
        for r in read_arrow(store.read_bytes(args["clustered"])).to_pylist():
            if r["reason"] != "eval_contamination" and not args["dedup"]:
                continue
            rows.setdefault(r["record"], {"record": r["record"], "reason": r["reason"], "detail": twin_detail(r),
                                          **{k: r[k] for k in ("twin_source", "twin_unit", "twin_record", "distance",
                                                               "cluster_size")}})
    table = pa.Table.from_pylist([rows[r] for r in sorted(rows)], schema=DROP_SCHEMA)
    data = arrow_bytes(table)
    name, sha = content_name(args["unit"], data, ".arrow")
    path = f"{DECISIONS_DIR}/{name}"
    store.makedirs(DECISIONS_DIR)
    store.write_bytes(path, data)
    reasons: dict[str, int] = {}
    for r in table.column("reason").to_pylist():
        reasons[r] = reasons.get(r, 0) + 1
    return {"unit": args["unit"], "path": path, "sha256": sha, "bytes": len(data), "dropped": table.num_rows,
            "reasons": reasons}


def twin_detail(r: dict[str, Any]) -> str:
    """The detail of a cluster verdict: the kept twin (or the evaluation record) it lost to."""
    where = f"{r['twin_source']} {r['twin_record']!r} (unit {r['twin_unit']}, image {r['twin_image_id']})"
    size = f"cluster of {r['cluster_size']}"
    if r["reason"] == "eval_contamination":
        return f"matches evaluation set {where}; {size}"
    if r["reason"] == "duplicate":
        return f"same content as kept {where}; {size}"
    return f"near duplicate of kept {where}, distance {r['distance']} bits; {size}"
