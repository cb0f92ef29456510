"""Curation between planning and building (docs/CURATION.md): the signature pass, the filters and
the global cluster pass, ending in a decision file per training unit that loses records.

Every step is a top-level function over small arguments, run by whatever task runner the engine
gives (`runner.map(fn, args)`: in-process, Ray tasks or a Beam pipeline), so curation knows no
engine. The decisions reach the build through the unit payload (CURATION_KEY): the build drops
those records before anything is rendered or tokenized.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from .. import CODE_VERSION, registry
from ..errors import RecipeError, UvdError
from ..ids import hash_hex
from ..images import set_exif_policy, set_pixel_limit
from ..manifests.store import OutputStore
from ..pipeline.drops import CURATION_KEY
from ..pipeline.quota import QUOTA_KEY
from ..pipeline.scores import SCORES_KEY
from ..recipe import Recipe
from ..stages import Source
from ..types import WorkUnit
from .decide import decide_unit, filter_unit, make_filters
from .ledger import (
    EXCHANGE_DIR,
    commit_decisions,
    commit_signatures,
    read_checked,
    read_decisions_summary,
    read_entry,
)
from .signatures import (
    FILTER_SIDE,
    SIGNATURE_SIDE,
    SIGNATURE_VERSION,
    sight_unit,
    signature_table,
)

Log = Callable[[str], None]


def eval_unit_id(name: str, index: int) -> str:
    return f"eval.{name}-{index:06d}"


def plan_eval_units(recipe: Recipe) -> list[WorkUnit]:
    """The units of every evaluation set: read for signatures only, never built."""
    units = []
    for spec in recipe.curation.eval_sets if recipe.curation else []:
        source = registry.create_source(spec.plugin, spec.params, recipe.seed)
        for i, payload in enumerate(source.units()):
            units.append(WorkUnit(eval_unit_id(spec.name, i), spec.name, i, payload))
    return units


def _source_spec(recipe: Recipe, name: str) -> tuple[str, dict[str, Any], str]:
    """(plugin, params, role) of a recipe source or an evaluation set."""
    for ev in recipe.curation.eval_sets:
        if ev.name == name:
            return ev.plugin, ev.params, "eval"
    spec = recipe.source(name)
    return spec.plugin, spec.params, "train"


def signature_identity(recipe: Recipe, unit: WorkUnit, source: Source, role: str, filters: list) -> str:
    """What decides a unit's signature rows: its source and payload, the filters' score settings
    (not their thresholds), how records are read and decoded (EXIF, size limits, links), and the code."""
    payload = {k: v for k, v in unit.payload.items() if not k.startswith("_")}
    scores = [f.score_identity() for f in filters]
    reading = recipe.preprocess.model_dump(mode="json", exclude={"center_crop"})  # the crop comes after signatures
    return hash_hex("signatures", SIGNATURE_VERSION, CODE_VERSION, source.name, source.params_dict, role, payload, scores,
                    reading)


def sign_task(args: dict[str, Any]) -> dict[str, Any]:
    """Compute and commit one unit's signatures (skipped when its committed entry matches)."""
    recipe = Recipe.model_validate(args["recipe"])
    unit = WorkUnit.from_row(args["unit"])
    store = OutputStore(args["store"])
    set_pixel_limit(recipe.preprocess.max_image_pixels)
    set_exif_policy(recipe.preprocess.exif)  # signatures of the pixels the build will see
    plugin, params, role = _source_spec(recipe, unit.source)
    source = registry.create_source(plugin, params, recipe.seed)
    filters = make_filters(recipe)
    try:
        identity = signature_identity(recipe, unit, source, role, filters)
        entry = read_entry(store, unit.id)
        if entry is not None and entry.get("identity") == identity and store.exists(entry["file"]["path"]):
            return entry
        reused = _reuse(recipe.curation.signatures_from, unit.id, identity)
        if reused is not None:  # an earlier output scored the same unit the same way: no decoding
            table, n_records = reused
        else:
            source.setup()
            try:
                sighted, n_records = sight_unit(source, unit, FILTER_SIDE if filters else SIGNATURE_SIDE)
                table = signature_table(sighted, filters)
            finally:
                source.teardown()
        return commit_signatures(store, unit.id, unit.source, role, identity, table, n_records)
    finally:
        for f in filters:
            f.teardown()


def _reuse(root: str | None, unit: str, identity: str) -> tuple[pa.Table, int] | None:
    """The signature table an earlier output committed for this unit with this identity."""
    if not root:
        return None
    other = OutputStore(root)
    entry = read_entry(other, unit)
    if entry is None or entry.get("identity") != identity:
        return None
    return read_checked(other, entry["file"]), entry["counts"]["records_read"]


def curate(recipe: Recipe, store: OutputStore, units: list[WorkUnit], runner: Any, log: Log = lambda _: None,
           on_unit: Callable[[int, int], None] | None = None) -> list[WorkUnit]:
    """Run the signature, filter and cluster passes for `units` (the plan) and return them with
    each unit's decisions attached. Resumable: committed signatures and decisions are reused.
    `on_unit(done, total)` follows the signature pass (progress)."""
    cur = recipe.curation
    if cur is None or not cur.enabled:
        return units
    try:
        import imagehash  # noqa: F401  (the signatures' perceptual hash)
    except ImportError:
        raise UvdError("curation needs the curation extra: pip install 'uvd-pipeline[curation]'") from None
    train = [u for u in units if u.source not in cur.skip_sources and u.payload.get(QUOTA_KEY) != 0]
    evals = plan_eval_units(recipe)
    recipe_row = recipe.to_dict()
    log(f"curation: signatures of {len(train)} training and {len(evals)} evaluation units")
    tasks = [({"recipe": recipe_row, "unit": u.to_row(), "store": store.url},) for u in train + evals]
    entries = runner.map(sign_task, tasks, on_done=on_unit) if on_unit else runner.map(sign_task, tasks)
    identity = hash_hex(
        "decisions", CODE_VERSION, sorted((e["unit"], e["identity"], e["file"]["sha256"]) for e in entries),
        cur.model_dump(mode="json", exclude={"signatures_from"}), [s.name for s in recipe.sources],
    )
    summary = read_decisions_summary(store)
    if summary is not None and summary.get("identity") != identity and store.list("ledger", ".json"):
        # units were built with the old decisions: new ones would mix two curations in one dataset
        raise RecipeError(
            f"{store.path('curation/decisions.json')}: the curation inputs changed since units were built "
            "(an evaluation set's files, or the signatures they were decided from); start afresh with a new "
            "--out, or restore the inputs and rerun"
        )
    if summary is None or summary.get("identity") != identity:
        summary = _decide(recipe, store, entries, runner, identity, log)
    else:
        log("curation: decisions already committed for these signatures and settings; reused")
    files = summary["units"]
    # with filters, every curated unit's manifest keeps its records' scores from its signature table
    tables = {e["unit"]: e["file"] for e in entries if e["role"] == "train"} if cur.filters else {}
    out = []
    for u in units:
        if u.id in files or u.id in tables:
            payload = dict(u.payload)
            for key, info in ((CURATION_KEY, files.get(u.id)), (SCORES_KEY, tables.get(u.id))):
                if info is not None:
                    payload[key] = {"store": store.url, **{k: info[k] for k in ("path", "sha256")}}
            u = WorkUnit(u.id, u.source, u.index, payload)
        out.append(u)
    dropped = sum(f["dropped"] for f in files.values())
    log(f"curation: {dropped} records dropped in {len(files)} units")
    return out


def _decide(recipe: Recipe, store: OutputStore, entries: list[dict[str, Any]], runner: Any, identity: str, log: Log) -> dict:
    cur = recipe.curation
    recipe_row = recipe.to_dict()
    prepared = runner.map(filter_unit, [({"recipe": recipe_row, "entry": e, "store": store.url},) for e in entries])
    ranks = _ranks(recipe)
    refs = [p for p in prepared if p["input"] is not None]
    stats: dict[str, Any] = {"filtered": sum(p["filtered"] for p in prepared)}
    by_unit: dict[str, str] = {}
    if (cur.dedup or cur.eval_sets) and refs:
        from .cluster import SignatureRef, cluster_pass

        sig_refs = [SignatureRef(unit=p["unit"], source=p["source"], rank=ranks[p["source"]], is_eval=p["role"] == "eval",
                                 path=p["input"]) for p in refs]
        result = cluster_pass(store, sig_refs, cur.threshold, runner, scratch=f"{EXCHANGE_DIR}/cluster",
                              on_stage=lambda name, n: log(f"curation: cluster pass, {name} ({n} tasks)"))
        by_unit = dict(result.paths)
        stats.update(result.stats)
    todo = [{"recipe": recipe_row, "store": store.url, "unit": p["unit"], "filtered": p["filtered_path"],
             "clustered": by_unit.get(p["unit"]), "dedup": cur.dedup}
            for p in prepared if p["role"] == "train" and (p["filtered"] or p["unit"] in by_unit)]
    files = {f["unit"]: f for f in runner.map(decide_unit, [(t,) for t in todo]) if f["dropped"]}
    reasons: dict[str, int] = {}
    for f in files.values():
        for reason, n in f["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    stats["dropped_by_reason"] = dict(sorted(reasons.items()))
    return commit_decisions(store, identity, files, stats)


def _ranks(recipe: Recipe) -> dict[str, int]:
    """The keep rank of every source: 0 for evaluation sets, then `priority`, then recipe order."""
    cur = recipe.curation
    ranks = {ev.name: 0 for ev in cur.eval_sets}
    order = list(cur.priority) + [s.name for s in recipe.sources if s.name not in cur.priority]
    for i, name in enumerate(order, start=1):
        ranks[name] = i
    return ranks
