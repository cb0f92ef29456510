"""`uvd digest`: one hash of a dataset's content, independent of shard layout, of how sequences
fall into units, of commit order and of worker count.

Each sequence hashes to SHA-256(id, token count, tokens); the digest is SHA-256 over the number of
sequences and the sum of those hashes modulo 2**256. A sum does not depend on order, so the
dataset is walked one unit at a time (bounded memory at any size) and per-unit sums could be
combined by a distributed job; unlike XOR, a sum keeps a sequence that occurs twice from cancelling
itself out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from .reader import Dataset

_MOD = 1 << 256


def sequence_hash(sequence_id: str, tokens) -> int:
    h = hashlib.sha256(sequence_id.encode())
    h.update(b"\0" + len(tokens).to_bytes(8, "little"))
    h.update(tokens.astype("<u2", copy=False).tobytes())
    return int.from_bytes(h.digest(), "big")


def dataset_digest(dataset: Dataset, on_unit: Callable[[int, int], None] | None = None) -> str:
    """`on_unit(done, total)` is called after each unit (progress)."""
    total = count = 0
    units = dataset.unit_count
    for done, (_, manifest, tokens) in enumerate(dataset.iter_units(), 1):
        cols = manifest.select(["sequence_id", "offset", "n_tokens"]).to_pydict()
        for sid, off, n in zip(cols["sequence_id"], cols["offset"], cols["n_tokens"]):
            total = (total + sequence_hash(sid, tokens[off : off + n])) % _MOD
            count += 1
        if on_unit:
            on_unit(done, units)
    return hashlib.sha256(b"uvd digest 2\0" + count.to_bytes(8, "little") + total.to_bytes(32, "big")).hexdigest()
