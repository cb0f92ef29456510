"""Raw contact sheets written while `uvd run` builds, from pixels already in memory.

The sample is the one `uvd preview --sample` keeps (exports/previews.py): per task, the
PREVIEWS_PER_TASK sequences with the smallest hash of their id. A sequence among a task's global
smallest is among its own unit's smallest, so each unit writes, before its commit, the sheets of its
per-task candidates (`write_unit_previews`, called by engines/unit.py on every engine); the end of
the run (`finish_previews`) picks the global sample from the committed manifests, writes
`previews/index.json` and removes the candidates that lost. Sheets are derived files: no ledger
entry names them, they enter no digest, and the same content gives the same bytes on every engine.

Candidates are written as raw uint8 arrays (`<sequence id>.npy`, read back with pickles refused):
~0.5 ms a sheet where a PNG encode takes ~3 ms, and most candidates lose. The end of the run encodes
the winners' PNGs (`exports/previews.png_bytes`, as `uvd preview --sample` does) and removes every
candidate, so a finished output holds PNGs only.

A worker process also remembers, per run, the PREVIEWS_PER_TASK smallest ranks per task among the
units it has committed in that run (`remember_committed`), and skips a candidate whose rank is above
the last of them: those committed sequences rank before it, so it cannot be in the sample. A process
that commits K units of one task then writes about 4 * (1 + ln K) candidates instead of 4 * K. The
memory is keyed by a token each run draws (`new_run_memory`) and the local and Ray engines hand to
`commit_built`, so a worker that outlives a run (a Ray session kept open across runs) never carries
one run's ranks into another. Beam's steps write every candidate (no memory).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..console.logs import get_logger
from ..ids import unit_fraction
from ..manifests.rollup import read_rollup
from ..manifests.store import OutputStore
from ..types import VisualSequence
from .previews import INDEX_FILE, PAD, PREVIEWS_DIR, SHEET_COLUMNS, contact_sheet, png_bytes

PREVIEWS_PER_TASK = 4
CANDIDATE_SUFFIX = ".npy"
log = get_logger("previews")


Rank = tuple[float, str]
MemoryKey = str  # a run's token (new_run_memory)
MEMORY_RUNS = 8  # runs remembered per process; a forgotten run only writes more candidates
# Per process: per run, per task, the `per_task` smallest ranks of the sequences it committed.
_committed: dict[MemoryKey, dict[str, list[Rank]]] = {}
_committed_lock = threading.Lock()


def _rank(sequence_id: str) -> Rank:
    return unit_fraction("preview", sequence_id), sequence_id


def unit_candidates(sequences: Iterable[VisualSequence], per_task: int = PREVIEWS_PER_TASK,
                    beaten_by: dict[str, list[Rank]] | None = None) -> list[VisualSequence]:
    """Per task, the unit's `per_task` sequences with the smallest preview hash; with `beaten_by`
    (ranks of committed sequences per task), without those ranking after `per_task` of them."""
    by_task: dict[str, list[VisualSequence]] = {}
    for s in sequences:
        by_task.setdefault(s.task, []).append(s)
    chosen = []
    for task in sorted(by_task):
        best = sorted(by_task[task], key=lambda s: _rank(s.id))[:per_task]
        known = (beaten_by or {}).get(task, [])
        if len(known) >= per_task:  # <=: the same sequence built again (a retried unit) keeps its sheet
            best = [s for s in best if _rank(s.id) <= known[per_task - 1]]
        chosen += best
    return chosen


def new_run_memory() -> MemoryKey:
    """A fresh token for one run's memory of committed ranks (drawn by the run's driver)."""
    return uuid.uuid4().hex


def forget_committed() -> None:
    """Clear this process's memory of committed ranks."""
    with _committed_lock:
        _committed.clear()


def remember_committed(key: MemoryKey, sequences: Iterable[VisualSequence], per_task: int = PREVIEWS_PER_TASK) -> None:
    """After a unit's commit: fold its per-task smallest ranks into this process's memory."""
    with _committed_lock:
        if key not in _committed and len(_committed) >= MEMORY_RUNS:
            del _committed[next(iter(_committed))]  # the oldest run
        memory = _committed.setdefault(key, {})
        for s in unit_candidates(sequences, per_task):
            ranks = memory.setdefault(s.task, [])
            ranks.append(_rank(s.id))
            ranks.sort()
            del ranks[per_task:]


def committed_ranks(key: MemoryKey) -> dict[str, list[Rank]]:
    with _committed_lock:
        return {task: list(ranks) for task, ranks in _committed.get(key, {}).items()}


def _raw_bytes(sheet: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, sheet, allow_pickle=False)
    return buf.getvalue()


def _raw_sheet(data: bytes) -> np.ndarray:
    """A candidate's sheet, or ValueError when the file is not a sheet (pickles are refused)."""
    try:
        sheet = np.load(io.BytesIO(data), allow_pickle=False)
    except EOFError:  # an empty file
        raise ValueError("empty file") from None
    if sheet.dtype != np.uint8 or sheet.ndim != 3 or sheet.shape[2] != 3:
        raise ValueError(f"not an RGB uint8 sheet: {sheet.dtype} {sheet.shape}")
    return sheet


def write_unit_previews(store: OutputStore, sequences: list[VisualSequence], per_task: int = PREVIEWS_PER_TASK,
                        memory: MemoryKey | None = None) -> int:
    """Write the candidate sheets of one unit (before its commit); returns how many. With `memory`,
    candidates that this process's committed units already beat are skipped (module docstring)."""
    chosen = unit_candidates(sequences, per_task, committed_ranks(memory) if memory else None)
    written = 0
    try:
        if chosen:
            store.makedirs(PREVIEWS_DIR)
        for s in chosen:
            # not fsync'ed: finish_previews reads each winner back and reports one a machine crash emptied
            store.write_bytes(f"{PREVIEWS_DIR}/{s.id}{CANDIDATE_SUFFIX}", _raw_bytes(contact_sheet(s.pixels())),
                              durable=False)
            written += 1
    except OSError as exc:  # previews are not the dataset: a full disk fails the unit's own commit, not this
        log.warning("previews: %d of %d sheets written (%s: %s); `uvd preview DIR --sample` writes them later",
                     written, len(chosen), type(exc).__name__, exc)
    return written


def _encode_candidate(store: OutputStore, sequence_id: str) -> set[str]:
    """The winner's PNG from its raw candidate; the PNG's name, or nothing when the candidate is
    not a sheet (a warning names the file)."""
    raw = f"{PREVIEWS_DIR}/{sequence_id}{CANDIDATE_SUFFIX}"
    try:
        sheet = _raw_sheet(store.read_bytes(raw))
    except ValueError as exc:
        log.warning("previews: %s is not a sheet (%s); `uvd preview DIR --sample` writes it", store.path(raw), exc)
        return set()
    store.write_bytes(f"{PREVIEWS_DIR}/{sequence_id}.png", png_bytes(sheet))
    return {f"{sequence_id}.png"}


def finish_previews(store: OutputStore, per_task: int = PREVIEWS_PER_TASK) -> list[dict[str, Any]]:
    """After a run: the global sample from the manifest roll-up, `previews/index.json`, and the
    losing candidates removed. A chosen sequence whose unit was committed before sheets were written
    (an older run) is listed as missing; `uvd preview DIR --sample` rebuilds those."""
    cols = ["sequence_id", "unit", "source", "category", "task", "split", "n_images"]
    best: dict[str, list[dict[str, Any]]] = {}
    try:
        for table in read_rollup(store, "manifest", cols):
            for row in table.to_pylist():
                best.setdefault(row["task"], []).append(row)
            for rows in best.values():
                rows.sort(key=lambda r: _rank(r["sequence_id"]))
                del rows[per_task:]
        listed = store.names(PREVIEWS_DIR)  # one listing for the sheets and the candidates
        present = {n for n in listed if n.endswith(".png")}
        candidates = {n for n in listed if n.endswith(CANDIDATE_SUFFIX)}
        entries = []
        for task in sorted(best):
            for row in best[task]:
                entry = dict(row)
                name = f"{row['sequence_id']}.png"
                if name not in present and f"{row['sequence_id']}{CANDIDATE_SUFFIX}" in candidates:
                    present |= _encode_candidate(store, row["sequence_id"])
                if name in present:
                    entry.update(file=f"{PREVIEWS_DIR}/{name}", columns=SHEET_COLUMNS, pad=PAD)
                else:
                    entry["missing"] = "its unit was committed without a sheet: `uvd preview DIR --sample` writes it"
                entries.append(entry)
        store.makedirs(PREVIEWS_DIR)
        keep = {f"{e['sequence_id']}.png" for e in entries}
        for name in sorted((present - keep) | candidates):
            store.remove(f"{PREVIEWS_DIR}/{name}")
        index = {"per_task": per_task, "sequences": entries, "paths_relative_to": os.getcwd()}
        store.write_text(INDEX_FILE, json.dumps(index, indent=1))
    except OSError as exc:  # previews are derived: a run does not fail on them
        log.log(logging.WARNING, f"previews not written: {type(exc).__name__}: {exc}")
        return []
    return entries
