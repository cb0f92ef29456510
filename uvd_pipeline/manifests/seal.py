"""The seal (`integrity.json`): a root digest over every ledger entry and the dataset's metadata
files, written at the end of every `uvd run` and checked by `uvd verify`.

Each ledger entry and each file carries or is named with a checksum, but a deleted entry (say, of
a unit whose records were all rejected, which leaves no data file behind) or an edited metadata
file (palette.json, recipe.resolved.yaml, a roll-up) leaves nothing to compare with. The seal
records the number of ledger entries and one digest over their bytes, and the sha256 of
recipe.resolved.yaml, inventory.json, dataset.json, palette.json and every roll-up file; `root` hashes all of it,
so the seal cannot be edited without being detected either (unless it is recomputed whole: what
a checksum without a key cannot prevent)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .rollup import ROLLUP_DIR
from .schema import DATASET_FILE, PALETTE_FILE, RECIPE_FILE
from .store import OutputStore

SEAL_FILE = "integrity.json"
SEAL_FORMAT = 1
INVENTORY_FILE = "inventory.json"  # the plan's unit inventory (engines/identity.py writes it)


def ledger_digest(entry_sha256: dict[str, str]) -> str:
    """One digest over the ledger: each entry's file name and the sha256 of its bytes, by name."""
    h = hashlib.sha256(b"uvd ledger 1\0")
    for name in sorted(entry_sha256):
        h.update(f"{name}\0{entry_sha256[name]}\n".encode())
    return h.hexdigest()


def sealed_files(store: OutputStore) -> list[str]:
    """The metadata files a seal covers, those present."""
    files = [rel for rel in (RECIPE_FILE, INVENTORY_FILE, DATASET_FILE, PALETTE_FILE) if store.exists(rel)]
    for kind in ("manifest", "rejects"):
        files += [f"{ROLLUP_DIR}/{kind}/{n}" for n in store.list(f"{ROLLUP_DIR}/{kind}", ".parquet")]
    return files


def root_of(seal: dict[str, Any]) -> str:
    body = {k: v for k, v in seal.items() if k != "root"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_seal(store: OutputStore, entry_sha256: dict[str, str]) -> dict[str, Any]:
    from .reader import read_ahead
    from .writer import json_text

    rels = sealed_files(store)
    files = {rel: hashlib.sha256(data).hexdigest() for rel, data in zip(rels, read_ahead(store, rels))}
    seal: dict[str, Any] = {
        "format": SEAL_FORMAT,
        "ledger": {"entries": len(entry_sha256), "digest": ledger_digest(entry_sha256)},
        "files": files,
    }
    seal["root"] = root_of(seal)
    store.write_text(SEAL_FILE, json_text(seal))
    return seal


def check_seal(store: OutputStore, entry_sha256: dict[str, str]) -> list[str]:
    """Problems of the ledger and metadata against the seal. No seal is a problem once dataset.json
    exists (a finished run wrote both); before that the output is a run that has not finished."""
    if not store.exists(SEAL_FILE):
        if store.exists(DATASET_FILE):
            return [f"{SEAL_FILE}: missing (deleted, or written by an older uvd: rerun `uvd run` to seal it)"]
        return []
    try:
        seal = json.loads(store.read_text(SEAL_FILE))
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"{SEAL_FILE}: not valid JSON ({exc})"]
    if not isinstance(seal, dict) or seal.get("root") != root_of(seal):
        return [f"{SEAL_FILE}: root digest mismatch (file altered)"]
    ledger, files = seal.get("ledger"), seal.get("files")
    if not isinstance(ledger, dict) or not isinstance(files, dict):
        return [f"{SEAL_FILE}: fields 'ledger' and 'files' must be objects"]
    out: list[str] = []
    if ledger.get("entries") != len(entry_sha256):
        out.append(f"ledger/: {len(entry_sha256)} entries, {SEAL_FILE} sealed {ledger.get('entries')} "
                   "(an entry was deleted or added since the last run finished, or a later run was killed: rerun it)")
    elif ledger.get("digest") != ledger_digest(entry_sha256):
        out.append(f"ledger/: entries differ from those {SEAL_FILE} sealed (an entry was replaced)")
    from .reader import read_ahead

    rels = [rel for rel in files if isinstance(rel, str)]
    present = [rel for rel in rels if store.exists(rel)]
    for rel in sorted(set(rels) - set(present)):
        out.append(f"{rel}: missing (sealed in {SEAL_FILE})")
    for rel, data in zip(present, read_ahead(store, present)):
        if hashlib.sha256(data).hexdigest() != files[rel]:
            out.append(f"{rel}: does not match its sha256 in {SEAL_FILE} (file altered)")
    for rel in sorted(set(sealed_files(store)) - set(rels)):
        out.append(f"{rel}: not sealed in {SEAL_FILE} (added after the run finished)")
    return out
