"""Raw contact sheets written while `uvd run` builds, from pixels already in memory.

The sample is the one `uvd preview --sample` keeps (exports/previews.py): per task, the
PREVIEWS_PER_TASK sequences with the smallest hash of their id. A sequence among a task's global
smallest is among its own unit's smallest, so each unit writes, before its commit, the sheets of its
per-task candidates (`write_unit_previews`, called by engines/unit.py on every engine); the end of
the run (`finish_previews`) picks the global sample from the committed manifests, writes
`previews/index.json` and removes the candidates that lost. Sheets are derived files: no ledger
entry names them, they enter no digest, and the same content gives the same bytes on every engine.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from ..console.logs import get_logger
from ..ids import unit_fraction
from ..manifests.rollup import read_rollup
from ..manifests.store import OutputStore
from ..types import VisualSequence
from .previews import INDEX_FILE, PAD, PREVIEWS_DIR, SHEET_COLUMNS, contact_sheet, png_bytes

PREVIEWS_PER_TASK = 4
log = get_logger("previews")


def _rank(sequence_id: str) -> tuple[float, str]:
    return unit_fraction("preview", sequence_id), sequence_id


def unit_candidates(sequences: Iterable[VisualSequence], per_task: int = PREVIEWS_PER_TASK) -> list[VisualSequence]:
    """Per task, the unit's `per_task` sequences with the smallest preview hash."""
    by_task: dict[str, list[VisualSequence]] = {}
    for s in sequences:
        by_task.setdefault(s.task, []).append(s)
    return [s for task in sorted(by_task) for s in sorted(by_task[task], key=lambda s: _rank(s.id))[:per_task]]




def write_unit_previews(store: OutputStore, sequences: list[VisualSequence], per_task: int = PREVIEWS_PER_TASK) -> int:
    """Write the candidate sheets of one unit (before its commit); returns how many."""
    chosen = unit_candidates(sequences, per_task)
    written = 0
    try:
        if chosen:
            store.makedirs(PREVIEWS_DIR)
        for s in chosen:
            store.write_bytes(f"{PREVIEWS_DIR}/{s.id}.png", png_bytes(contact_sheet(s.pixels())))
            written += 1
    except OSError as exc:  # previews are not the dataset: a full disk fails the unit's own commit, not this
        log.warning("previews: %d of %d sheets written (%s: %s); `uvd preview DIR --sample` writes them later",
                     written, len(chosen), type(exc).__name__, exc)
    return written


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
        present = set(store.list(PREVIEWS_DIR, ".png"))
        entries = []
        for task in sorted(best):
            for row in best[task]:
                entry = dict(row)
                name = f"{row['sequence_id']}.png"
                if name in present:
                    entry.update(file=f"{PREVIEWS_DIR}/{name}", columns=SHEET_COLUMNS, pad=PAD)
                else:
                    entry["missing"] = "its unit was committed without a sheet: `uvd preview DIR --sample` writes it"
                entries.append(entry)
        store.makedirs(PREVIEWS_DIR)
        keep = {f"{e['sequence_id']}.png" for e in entries}
        for name in sorted(present - keep):
            store.remove(f"{PREVIEWS_DIR}/{name}")
        index = {"per_task": per_task, "sequences": entries, "paths_relative_to": os.getcwd()}
        store.write_text(INDEX_FILE, json.dumps(index, indent=1))
    except OSError as exc:  # previews are derived: a run does not fail on them
        log.log(logging.WARNING, f"previews not written: {type(exc).__name__}: {exc}")
        return []
    return entries
