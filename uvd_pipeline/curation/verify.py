"""`uvd verify` for curation's committed files: every signature entry and decisions.json carry
their checksums, every file they name matches its sha256, and every training unit that the
decisions name dropped exactly the records its decision file lists (read = used + rejected holds
for the rest through the build's own ledger)."""

from __future__ import annotations

import hashlib
import json

from ..manifests.store import OutputStore
from .ledger import DECISIONS_FILE, LEDGER_DIR, entry_checksum


def verify_curation(root: str) -> list[str]:
    """Problems in the curation files of an output (none when it has no curation)."""
    store = OutputStore(root)
    problems: list[str] = []
    for name in store.list(LEDGER_DIR, ".json"):
        rel = f"{LEDGER_DIR}/{name}"
        problems += _check_entry(store, rel, lambda e: [e.get("file")])
    if store.exists(DECISIONS_FILE):
        problems += _check_entry(store, DECISIONS_FILE, lambda e: list((e.get("units") or {}).values()))
    return problems


def _check_entry(store: OutputStore, rel: str, files_of) -> list[str]:
    try:
        entry = json.loads(store.read_text(rel))
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"{rel}: not valid JSON ({exc})"]
    if not isinstance(entry, dict) or entry.get("checksum") != entry_checksum(entry):
        return [f"{rel}: checksum mismatch (entry altered)"]
    problems = []
    for info in files_of(entry):
        if not isinstance(info, dict) or not isinstance(info.get("path"), str) or ".." in info["path"].split("/"):
            problems.append(f"{rel}: malformed file reference {info!r}")
            continue
        if not store.exists(info["path"]):
            problems.append(f"{store.path(info['path'])}: missing (named by {rel})")
        elif hashlib.sha256(store.read_bytes(info["path"])).hexdigest() != info.get("sha256"):
            problems.append(f"{store.path(info['path'])}: sha256 mismatch (file altered)")
    return problems
