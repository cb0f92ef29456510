"""Content-addressed identities and seeds (DESIGN.md, Identity and determinism)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

ID_HEX = 32  # 128-bit ids: short in manifests, collision-free at UVDv1's 1.64B images


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same bytes."""
    return _CANONICAL.encode(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON-able: {type(value).__name__}")


# What json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default) builds on
# every call, built once (the same bytes; encode() keeps no state between calls).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default)


def hash_hex(*parts: Any) -> str:
    """A stable hex id over any JSON-able parts."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:ID_HEX]


def bytes_id(data: bytes) -> str:
    """The id of an image read from a file: the hash of its bytes."""
    return hashlib.sha256(data).hexdigest()[:ID_HEX]


def derived_id(input_id: str, plugin: str, version: str, params: Any) -> str:
    """The id of pixels a plugin derived from another image (annotation render, corruption, view)."""
    return hash_hex("derived", input_id, plugin, version, params)


def sequence_id(sequencer: str, version: str, params: Any, image_ids: list[str], repeat: int = 0) -> str:
    """The id of a sequence: its sequencer and member image ids in order. `repeat` tells apart
    a unit's later sequences with the very same members in the same order (e.g. a group that
    recurs in two passes of `epochs`): the first keeps the plain id, the n-th repeat hashes n."""
    if repeat:
        return hash_hex("sequence", sequencer, version, params, image_ids, {"repeat": repeat})
    return hash_hex("sequence", sequencer, version, params, image_ids)


def seed_for(*parts: Any) -> int:
    """A 64-bit seed derived from parts, e.g. (recipe seed, source name, unit id)."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def rng_for(*parts: Any) -> np.random.Generator:
    return np.random.default_rng(seed_for(*parts))


def unit_fraction(*parts: Any) -> float:
    """A number in [0, 1) fixed by parts: used for hash-based splits."""
    return seed_for(*parts) / 2**64
