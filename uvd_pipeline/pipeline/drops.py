"""Records a unit must drop, decided before it is built (curation's decisions, docs/CURATION.md).

The curation pass writes each affected unit's decisions to a committed Arrow file and puts its
location in the unit payload under CURATION_KEY; the build reads it and turns each listed record
into a reject (reason and detail as decided) before anything is rendered or tokenized.
"""

from __future__ import annotations

import hashlib
from typing import Any

CURATION_KEY = "_uvd_curation"


def unit_drops(payload: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{record: (reason, detail)} for the unit with this payload (empty when nothing is dropped)."""
    info = payload.get(CURATION_KEY)
    if not info:
        return {}
    from ..manifests.reader import read_arrow
    from ..manifests.store import OutputStore

    data = OutputStore(info["store"]).read_bytes(info["path"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(f"{info['path']}: curation decisions altered since the curation pass (sha256 mismatch)")
    table = read_arrow(data).to_pydict()
    return {rec: (reason, detail) for rec, reason, detail in zip(table["record"], table["reason"], table["detail"])}
