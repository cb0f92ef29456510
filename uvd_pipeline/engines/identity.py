"""The identity of a run, pinned at its first run and checked on every resume.

Besides the recipe's fingerprint (engines/base.py), a resumed run must tokenize with the same
model and the same arithmetic and read the same inputs unit by unit, or the dataset would mix two
tokenizations, or lose one record and repeat another when a folder gained a file. Pinned in the
output at the first run:

- the tokenizer checkpoint's sha256 and the effective tokenizer (device kind, dtype, TF32, torch
  version) in recipe.resolved.yaml;
- the plan's unit inventory, a hash of each unit's payload (what it reads), in inventory.json.

A resume whose checkpoint, effective tokenizer or inventory differs is refused (exit 2) with what
changed and how to start afresh.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..errors import RecipeError
from ..ids import hash_hex
from ..manifests.schema import LEDGER_DIR, RECIPE_FILE
from ..manifests.store import OutputStore
from ..pipeline.tokenize import tokenizer_identity
from ..recipe import Recipe, TokenizerSpec
from ..types import WorkUnit

INVENTORY_FILE = "inventory.json"
INVENTORY_FORMAT = 1
_SHOWN = 5  # unit names listed per kind of change


def effective_tokenizer(recipe: Recipe, engine: str, address: str | None = None, workers: int = 1,
                        **engine_options: Any) -> dict[str, Any]:
    """The tokenizer the engine's workers will run: device kind, dtype, TF32, torch version."""
    return tokenizer_identity(recipe.tokenizer, _device_kind(recipe.tokenizer, engine, address, workers, engine_options))


def _device_kind(spec: TokenizerSpec, engine: str, address: str | None, workers: int, options: dict[str, Any]) -> str:
    """Where the engine puts the tokenizer. Ray: its placement rule on the cluster's resources
    (one actor per GPU unless the recipe says cpu). Beam: the `tokenizer_device` pipeline option,
    else the recipe's device; `auto` resolves on this (the launching) machine."""
    device = spec.device
    if engine == "ray":
        from .ray_engine import _init_ray, placement

        import ray

        _init_ray(address, workers, bool(options.get("oversubscribe", False)))  # as run_ray would
        res = ray.cluster_resources()
        return placement(float(res.get("CPU", 1)), int(res.get("GPU", 0)), workers, 2 * workers,
                         tokenizer_device=device).device
    if engine == "beam":
        for option in options.get("pipeline_options") or []:
            key, _, value = str(option).partition("=")
            if key.strip().lstrip("-") == "tokenizer_device" and value.strip():
                device = value.strip()
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if str(device).startswith("cuda") else "cpu"


def unit_hash(unit: WorkUnit) -> str:
    """The hash of a unit's source and payload (what it reads)."""
    return hash_hex("unit", unit.source, unit.index, unit.payload)


def unit_hashes(units: list[WorkUnit]) -> dict[str, str]:
    """unit id -> unit_hash."""
    return {u.id: unit_hash(u) for u in units}


def same_inventory(pinned: Any, units: list[WorkUnit]) -> bool:
    """Whether the planned units are those of the pinned inventory (unit id -> hash), each with its
    hash: compared unit by unit as it is hashed, without a second dict of 743,333 entries."""
    if not isinstance(pinned, dict) or len(pinned) != len(units):
        return False
    get = pinned.get
    return all(get(u.id) == unit_hash(u) for u in units)


def unit_inventory(units: list[WorkUnit]) -> dict[str, Any]:
    """The unit hashes and a root hash over them all (what a first run pins)."""
    hashes = unit_hashes(units)
    return {"format": INVENTORY_FORMAT, "root": hash_hex("inventory", hashes), "units": hashes}


def check_resume(store: OutputStore, resolved: dict[str, Any], units: list[WorkUnit]) -> None:
    """First run (no recipe.resolved.yaml yet): write the inventory. Resume: refuse (RecipeError,
    exit 2) when the checkpoint, the effective tokenizer or the inventory differ from the pinned."""
    if not store.exists(RECIPE_FILE):  # the first run: the caller writes recipe.resolved.yaml next
        store.write_text(INVENTORY_FILE, _inventory_text(unit_inventory(units)))
        return
    old = yaml.safe_load(store.read_text(RECIPE_FILE)) or {}
    if not isinstance(old, dict) or old.get("fingerprint") != resolved["fingerprint"]:
        return  # a different recipe: the fingerprint check refuses it and says so
    changes = []
    if old.get("tokenizer_sha256") not in (None, resolved["tokenizer_sha256"]):
        changes.append(f"the tokenizer checkpoint changed: sha256 {old['tokenizer_sha256']} at the first run, "
                       f"{resolved['tokenizer_sha256']} now")
    pinned = old.get("tokenizer_identity")
    current = resolved.get("tokenizer_identity")
    if pinned is not None and current is not None and pinned != current:
        changes.append(f"the effective tokenizer changed: {describe(pinned)} at the first run, {describe(current)} now")
    if store.exists(INVENTORY_FILE):  # compared unit by unit (the root hash is not needed to resume)
        try:
            before = json.loads(store.read_text(INVENTORY_FILE))["units"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RecipeError(f"{store.path(INVENTORY_FILE)}: unreadable unit inventory ({exc}); "
                              f"start afresh with a new --out") from None
        if not same_inventory(before, units):
            changes.append(inventory_changes(before, unit_hashes(units)))
    else:  # an output begun before inventories were pinned: pin what it plans now
        store.write_text(INVENTORY_FILE, _inventory_text(unit_inventory(units)))
    if changes:
        raise RecipeError(
            f"{store.url}: cannot resume this output: " + "; ".join(changes) + ". Resuming would mix "
            f"two tokenizations or read other inputs than the committed units did. To start afresh, "
            f"use a new --out (or delete {store.url} first); to finish this output, restore what changed."
        )


def pending_units(store: OutputStore, units: list[WorkUnit]) -> list[WorkUnit]:
    """The planned units that have no ledger entry yet, in plan order: one listing of the ledger
    (names only: an entry is its unit's commit point, so no entry is read or stat-ed)."""
    done = store.names(LEDGER_DIR, ".json")
    return [u for u in units if f"{u.id}.json" not in done]


def describe(identity: dict[str, Any]) -> str:
    tf32 = ", tf32" if identity.get("tf32") else ""
    return f"{identity.get('dtype')} on {identity.get('device')}{tf32}, torch {identity.get('torch')}"


def inventory_changes(before: dict[str, str], now: dict[str, str]) -> str:
    """What differs between two inventories, in words: units whose inputs changed, added, removed."""
    changed = sorted(u for u in before.keys() & now.keys() if before[u] != now[u])
    added = sorted(now.keys() - before.keys())
    removed = sorted(before.keys() - now.keys())
    parts = []
    for what, names in (("units that read other inputs", changed), ("new units", added), ("units gone", removed)):
        if names:
            shown = ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
            parts.append(f"{what}: {len(names)} ({shown})")
    return "the inputs changed since the first run (files added, removed or renamed): " + ", ".join(parts)


def _inventory_text(inventory: dict[str, Any]) -> str:
    return json.dumps(inventory, indent=1, sort_keys=True)
