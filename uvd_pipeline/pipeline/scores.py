"""Filter scores a unit's manifest keeps (docs/CURATION.md, "Scores in the manifests").

With filters in the recipe, the curation pass puts the location and sha256 of each curated unit's
committed signature table in its payload under SCORES_KEY; the build reads the records' scores from
that table (no image is decoded again) and the commit writes them to the manifest's
`curation_scores` column, so a threshold can be changed later without recomputing them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SCORES_KEY = "_uvd_scores"


def keeps_scores(recipe: Any) -> bool:
    """Whether this recipe's manifests have the scores column: a `curation:` block with filters."""
    cur = getattr(recipe, "curation", None)
    return cur is not None and bool(cur.filters)


def unit_scores(payload: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """{record: {image_id: {filter: {score: value}}}} from the unit's committed signature table,
    or None when the curation pass named none (no filters, a skipped source). A table whose bytes
    no longer match the sha256 the pass recorded raises ValueError naming the file."""
    info = payload.get(SCORES_KEY)
    if not info:
        return None
    from ..manifests.reader import read_arrow
    from ..manifests.store import OutputStore

    store = OutputStore(info["store"])
    data = store.read_bytes(info["path"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(f"{store.path(info['path'])}: signature table altered since the curation pass "
                         "(sha256 mismatch); its filter scores cannot go into the manifest")
    table = read_arrow(data).select(["record", "image_id", "scores"]).to_pydict()
    out: dict[str, dict[str, Any]] = {}
    for record, image_id, scores in zip(table["record"], table["image_id"], table["scores"]):
        out.setdefault(record, {})[image_id] = json.loads(scores)
    return out
