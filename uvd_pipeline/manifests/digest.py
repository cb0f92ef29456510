"""`uvd digest`: one hash of a dataset's content, independent of shard layout, unit order and
worker count: every (sequence id, tokens) pair, in sequence-id order."""

from __future__ import annotations

import hashlib

from .reader import Dataset


def dataset_digest(dataset: Dataset) -> str:
    m = dataset.manifest
    rows = sorted(
        zip(m["sequence_id"].to_pylist(), m["unit"].to_pylist(), m["index"].to_pylist(),
            m["shard"].to_pylist(), m["offset"].to_pylist(), m["n_tokens"].to_pylist())
    )
    h = hashlib.sha256()
    for sid, _unit, _index, shard, off, n in rows:
        tokens = dataset.shard(shard)[off : off + n]
        h.update(sid.encode())
        h.update(int(n).to_bytes(8, "little"))
        h.update(tokens.astype("<u2", copy=False).tobytes())
    return h.hexdigest()
