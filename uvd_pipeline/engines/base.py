"""Run a recipe on an engine: prepare the output, plan units, skip committed ones, run the rest,
then write the dataset summary."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from .. import CODE_VERSION, __version__
from ..errors import RecipeError, RunFailed, UvdError
from ..console.logs import event, get_logger
from ..manifests.reader import Dataset
from ..manifests.rollup import chunks_in_order, read_rollup, write_rollups
from ..manifests.seal import write_seal
from ..manifests.schema import DATASET_FILE, PALETTE_FILE, FORMAT_VERSION, RECIPE_FILE, manifest_schema
from ..manifests.store import OutputStore
from ..manifests.writer import json_text, prepare_output, summary_checksum
from ..pipeline.plan import plan_units
from ..pipeline.scores import keeps_scores
from ..pipeline.tokenize import tokenizer_fingerprint
from ..recipe import Recipe
from .environment import decoding_versions, warn_if_environment_changed
from .identity import check_resume, effective_tokenizer, pending_units
from .lease import OutputLease
from ..exports.run_previews import finish_previews, new_run_memory
from .interrupt import run_started
from .progress import RunProgress

ENGINES = ("local", "ray", "beam")
log = get_logger("run")


@dataclass
class RunSummary:
    planned: int
    skipped: int
    committed: int
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    dataset: dict[str, Any] = field(default_factory=dict)


def _engine(name: str):
    if name == "local":
        from .local import run_local

        return run_local
    if name == "ray":
        from .ray_engine import run_ray

        return run_ray
    if name == "beam":
        try:
            from .beam_engine import run_beam
        except ImportError as exc:
            raise UvdError(f"engine 'beam' needs the beam extra: pip install 'uvd-pipeline[beam]' ({exc})") from None
        return run_beam
    raise UvdError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")


def _check_recipe(store: OutputStore, recipe: Recipe, resolved: dict[str, Any]) -> None:
    if store.exists(RECIPE_FILE):
        old = yaml.safe_load(store.read_text(RECIPE_FILE)) or {}
        if old.get("fingerprint") != resolved["fingerprint"]:
            raise RecipeError(
                f"{store.path(RECIPE_FILE)}: this output was built from a different recipe "
                f"(fingerprint {old.get('fingerprint')} != {resolved['fingerprint']}); use a new --out"
            )
        warn_if_environment_changed(old, resolved["environment"], store.path(RECIPE_FILE))
    else:
        store.write_text(RECIPE_FILE, yaml.safe_dump(resolved, sort_keys=False))


def run_recipe(
    recipe: Recipe,
    out: str,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    quiet: bool = False,
    **engine_options: Any,
) -> RunSummary:
    start = time.perf_counter()
    run = _engine(engine)
    # Everything that can refuse the recipe (inputs to plan, the tokenizer checkpoint) runs before
    # the output folder is made: a refused recipe leaves nothing behind.
    resolved = {
        "fingerprint": recipe.fingerprint(),
        "code_version": CODE_VERSION,
        "tokenizer_sha256": tokenizer_fingerprint(recipe.tokenizer),
        "tokenizer_identity": effective_tokenizer(recipe, engine, address, workers, **engine_options),
        "environment": decoding_versions(),  # the libraries that decide the pixels (environment.py)
        "recipe": recipe.to_dict(),
    }
    units = plan_units(recipe)
    store = OutputStore(out)
    try:
        prepare_output(store)
    except OSError as exc:  # read-only, no permission, disk full
        raise RunFailed(f"{out}: cannot create the output folders ({type(exc).__name__}: {exc})") from None
    # One writer per output (engines/lease.py): a second run on it is refused with exit 2.
    lease = OutputLease(store, note=f"recipe {recipe.name} ({resolved['fingerprint'][:12]})")
    try:
        lease.acquire()
    except OSError as exc:  # a read-only or full disk: the output cannot be written at all
        raise RunFailed(f"{out}: cannot take the output's lease ({type(exc).__name__}: {exc}); "
                        "rerun the same command once the output is writable") from None
    try:
        check_resume(store, resolved, units)  # engines/identity.py: checkpoint, tokenizer, inventory
        _check_recipe(store, recipe, resolved)
        if recipe.curation is not None and recipe.curation.enabled:  # the one global pass (docs/CURATION.md)
            from .curation import curate_on_engine

            units = curate_on_engine(recipe, store, units, engine, workers=workers, address=address)
        pending = pending_units(store, units)  # one listing of the ledger (engines/identity.py)
        run_started(out, len(units))  # for the "interrupted: N of M units committed" line (engines/interrupt.py)
        event(log, "run_started", f"run {recipe.name}: {len(pending)} of {len(units)} units to build on {engine} -> {out}",
              recipe=recipe.name, engine=engine, out=out, units_planned=len(units), units_pending=len(pending), workers=workers)
        with RunProgress(len(pending), quiet=quiet) as progress:
            failures = run(recipe, store, pending, progress, workers=workers, address=address,
                           preview_memory=new_run_memory(), **engine_options)
        lease.check()  # another writer took the output over (this run stalled past its lease)
        try:
            summary = write_dataset_summary(store, recipe, resolved, planned=len(units))
        except OSError as exc:  # disk full, permissions: the committed units stay, a rerun writes it
            raise RunFailed(
                f"{out}: {len(pending) - len(failures)} units committed, {len(failures)} failed, and the dataset "
                f"summary could not be written ({type(exc).__name__}: {exc}); rerun the same command to finish"
            ) from None
        finish_previews(store)  # previews/index.json from the sheets the units wrote (exports/run_previews.py)
        result = RunSummary(
            planned=len(units),
            skipped=len(units) - len(pending),
            committed=len(pending) - len(failures),
            failures=failures,
            seconds=time.perf_counter() - start,
            dataset=summary,
        )
        event(log, "run_finished",
              f"run {recipe.name}: {result.committed} committed, {result.skipped} skipped, {len(failures)} failed "
              f"in {result.seconds:.1f} s", level=logging.WARNING if failures else logging.INFO,
              recipe=recipe.name, engine=engine, out=out, units_planned=result.planned, units_skipped=result.skipped,
              units_committed=result.committed, failures=[{"unit": u, "error": e} for u, e in failures],
              seconds=round(result.seconds, 3), totals=summary["totals"], complete=summary["complete"])
        return result
    finally:
        lease.release()


def write_dataset_summary(store: OutputStore, recipe: Recipe, resolved: dict[str, Any], planned: int) -> dict[str, Any]:
    ds = Dataset(store.url)
    keys = ("sequences", "images", "tokens", "records_read", "records_used", "records_rejected")
    totals = {"units_planned": planned, "units_committed": 0, **{key: 0 for key in keys}}

    def counted(entries):  # totals summed as the ledger streams by (one roll-up chunk held at a time)
        for e in entries:
            totals["units_committed"] += 1
            for key in keys:
                totals[key] += int(e["counts"][key])
            yield e

    in_order = chunks_in_order(name[: -len(".json")] for name in ds.ledger_names)
    # manifest.parquet, rejects.parquet (DuckDB, pandas, ...)
    rollups = write_rollups(store, counted(ds.iter_entries()) if in_order else list(counted(ds.ledger)),
                            manifest_schema(keeps_scores(recipe)))
    by: dict[str, dict[str, dict[str, int]]] = {"category": {}, "source": {}, "task": {}}
    # From the roll-ups just brought up to date: a few Parquet columns per 1,000 units, instead of
    # reading every unit's manifest a second time.
    for table in read_rollup(store, "manifest", [*by, "n_images", "n_tokens"]):
        m = table.to_pydict()
        for col in by:
            for value, n_img, n_tok in zip(m[col], m["n_images"], m["n_tokens"]):
                row = by[col].setdefault(value, {"sequences": 0, "images": 0, "tokens": 0})
                row["sequences"] += 1
                row["images"] += n_img
                row["tokens"] += n_tok
    summary = {
        "format": FORMAT_VERSION,
        "uvd_pipeline": __version__,
        "code_version": CODE_VERSION,
        "recipe_fingerprint": resolved["fingerprint"],
        "environment": resolved["environment"],
        "tokenizer": {
            "checkpoint": recipe.tokenizer.checkpoint,
            "preset": None if recipe.tokenizer.checkpoint else recipe.tokenizer.preset,
            "random_weights": recipe.tokenizer.is_random,
            "sha256": resolved["tokenizer_sha256"],
            "identity": resolved.get("tokenizer_identity"),
            "codebook_size": 8192,
            "tokens_per_image": 256,
        },
        "complete": totals["units_committed"] >= planned,
        "totals": totals,
        "by": by,
        "rollups": rollups,
    }
    summary["checksum"] = summary_checksum(summary)
    from ..renderers.palette import palette_json

    store.write_text(PALETTE_FILE, palette_json())  # invert segmentation colours back to ids
    store.write_text(DATASET_FILE, json_text(summary))
    write_seal(store, ds.ledger_sha256)  # integrity.json: the root digest `uvd verify` checks, written last
    return summary
