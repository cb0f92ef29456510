"""`uvd verify`: every ledger entry has the documented shape and names files inside the output,
every committed file matches its ledger checksum, the ledger entries and dataset.json carry their
own checksums and are byte for byte as written, every manifest row points inside its shard, every
unit accounts for what it read (read = used + rejected), and the ledger and metadata files match
the seal (integrity.json) the last finished run wrote."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np

from ..types import TOKENS_PER_IMAGE
from .reader import Dataset, ordered_map, read_arrow
from .entry import entry_problems
from .schema import DATASET_FILE, LEDGER_DIR, MANIFEST_SCHEMA, REJECTS_SCHEMA, SCORED_MANIFEST_SCHEMA
from .seal import check_seal
from .writer import json_text, ledger_checksum, summary_checksum


def verify_dataset(root: str, on_unit: Callable[[int, int], None] | None = None) -> list[str]:
    """Problems found; an empty list means the dataset is intact. Units are checked READ_AHEAD at
    a time in threads (object stores: latency bound), reported in ledger order. `on_unit(done,
    total)` is called after each unit (progress)."""
    ds = Dataset(root)
    store = ds.store
    problems: list[str] = []
    totals = {"sequences": 0, "tokens": 0}
    counted = True  # every unit's counts known: from its files, or from its intact ledger entry
    names = store.list(LEDGER_DIR, ".json")
    entry_sha256: dict[str, str] = {}
    for done, (name, found, counts, sha) in enumerate(ordered_map(lambda n: (n, *_verify_unit(store, n)), names), 1):
        problems += found
        counted = counted and counts is not None
        if sha is not None:
            entry_sha256[name] = sha
        for key in totals:
            totals[key] += (counts or {}).get(key, 0)
        if on_unit:
            on_unit(done, len(names))
    summary, found = _read_summary(store)
    problems += found
    # A unit already reported (a damaged file, an altered entry) is not reported again as a totals
    # mismatch: the totals are compared only where every unit could be counted.
    if summary is not None and counted:
        for key in ("sequences", "tokens"):
            totals_of = summary.get("totals")
            want = totals_of.get(key) if isinstance(totals_of, dict) else None
            if want is not None and want != totals[key]:
                problems.append(f"{DATASET_FILE}: totals.{key} = {want}, ledger says {totals[key]}")
    problems += check_seal(store, entry_sha256)
    return problems


def _verify_unit(store, name: str) -> tuple[list[str], dict[str, int] | None, str | None]:
    """One ledger entry and its files: (problems; the sequences and tokens its files hold, where a
    file is damaged what its intact ledger entry says, None when the entry itself is damaged; the
    sha256 of the entry's bytes, for the seal)."""
    rel = f"{LEDGER_DIR}/{name}"
    try:
        data = store.read_bytes(rel)
    except FileNotFoundError:
        return [f"{rel}: disappeared while verifying"], None, None
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
        entry = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return [f"{rel}: not valid JSON ({exc})"], None, sha
    shape = entry_problems(entry, rel, name)
    if shape:
        return shape, None, sha
    if entry.get("checksum") != ledger_checksum(entry):
        return [f"{rel}: ledger checksum mismatch (entry altered)"], None, sha
    if text != json_text(entry):  # e.g. whitespace changed: same entry, altered file
        return [f"{rel}: bytes differ from the entry's written form (file altered)"], None, sha
    unit = entry["unit"]
    problems: list[str] = []
    blobs: dict[str, bytes] = {}
    for kind, info in entry["files"].items():
        try:
            data = store.read_bytes(info["path"])
        except FileNotFoundError:
            problems.append(f"{unit}: {kind} file {info['path']} is missing")
            continue
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            problems.append(f"{unit}: {kind} file {info['path']} does not match its sha256")
            continue
        blobs[kind] = data
    if len(blobs) != 3:
        return problems, {key: int(entry["counts"][key]) for key in ("sequences", "tokens")}, sha
    counts = {"sequences": 0, "tokens": 0}
    return problems + _check_unit(entry, blobs, counts), counts, sha


def _read_summary(store) -> tuple[dict | None, list[str]]:
    """dataset.json, if present and intact (its checksum and written form), and the problems found."""
    if not store.exists(DATASET_FILE):
        return None, []
    try:
        text = store.read_text(DATASET_FILE)
        summary = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [f"{DATASET_FILE}: not valid JSON ({exc})"]
    if not isinstance(summary, dict) or "checksum" not in summary:
        return None, [f"{DATASET_FILE}: no checksum (altered, or written by an older uvd: rerun `uvd run` to rewrite it)"]
    if summary["checksum"] != summary_checksum(summary):
        return None, [f"{DATASET_FILE}: checksum mismatch (file altered)"]
    if text != json_text(summary):
        return None, [f"{DATASET_FILE}: bytes differ from its written form (file altered)"]
    return summary, []


def _check_unit(entry: dict, blobs: dict[str, bytes], totals: dict[str, int]) -> list[str]:
    import io

    unit = entry["unit"]
    out: list[str] = []
    try:
        tokens = np.load(io.BytesIO(blobs["shard"]), allow_pickle=False)
        manifest = read_arrow(blobs["manifest"])
        rejects = read_arrow(blobs["rejects"])
    except Exception as exc:  # checksums matched, so this is a writer bug; report, don't crash
        return [f"{unit}: unreadable committed file ({type(exc).__name__}: {exc})"]
    if tokens.dtype != np.uint16 or tokens.ndim != 1:
        out.append(f"{unit}: shard is {tokens.dtype} {tokens.shape}, expected 1-D uint16")
    scored = manifest.schema.equals(SCORED_MANIFEST_SCHEMA)  # a recipe with filters keeps their scores
    if not (scored or manifest.schema.equals(MANIFEST_SCHEMA)) or not rejects.schema.equals(REJECTS_SCHEMA):
        out.append(f"{unit}: manifest or rejects schema differs from the format")
    end = 0
    for row in manifest.select(["sequence_id", "offset", "n_tokens", "n_images"]).to_pylist():
        if row["offset"] != end:
            out.append(f"{unit}: sequence {row['sequence_id']} starts at {row['offset']}, expected {end}")
        if row["n_tokens"] != row["n_images"] * TOKENS_PER_IMAGE:
            out.append(f"{unit}: sequence {row['sequence_id']} has {row['n_tokens']} tokens for {row['n_images']} images")
        end = row["offset"] + row["n_tokens"]
    if end != tokens.size:
        out.append(f"{unit}: manifest covers {end} tokens, shard holds {tokens.size}")
    c = entry["counts"]
    if c["records_read"] != c["records_used"] + c["records_rejected"]:
        out.append(
            f"{unit}: read {c['records_read']} records, used {c['records_used']} + rejected {c['records_rejected']}"
        )
    if c["sequences"] != manifest.num_rows or c["tokens"] != tokens.size:
        out.append(f"{unit}: ledger counts differ from the files")
    totals["sequences"] += manifest.num_rows
    totals["tokens"] += int(tokens.size)
    return out
