"""What the fuzz tests share: Hypothesis settings (a CI profile and a deep one), byte and JSON
mutations, seed files in each format, and the harness that plans, reads and builds a source's units
and fails on anything but Items, Rejects and a UnitBuild whose records all end used or rejected."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from uvd_pipeline.pipeline.build import UnitBuild, UnitBuilder
from uvd_pipeline.pipeline.plan import unit_id
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.samples.pictures import picture
from uvd_pipeline.types import Item, Reject, WorkUnit

PROFILE = os.environ.get("UVD_FUZZ_PROFILE", "ci")
_COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck))
FUZZ = (settings(max_examples=400, **_COMMON) if PROFILE == "deep"
        else settings(max_examples=25, derandomize=True, database=None, **_COMMON))
# Each JHMDB example starts a child process (the MAT reader is isolated): fewer of them in CI.
FUZZ_SLOW = FUZZ if PROFILE == "deep" else settings(FUZZ, max_examples=8)

# -- mutations ---------------------------------------------------------------------------------------

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 6) -> bytes:
    """`seed` with 1..max_ops byte-level mutations, biased to its first bytes (headers)."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        if not data:
            data = bytearray(draw(st.binary(max_size=32)))
            continue
        head = min(len(data) - 1, 96)
        pos = draw(st.one_of(st.integers(0, head), st.integers(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "set", "int", "insert", "delete", "truncate", "duplicate"]))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "set":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(chunk)] = chunk
        elif op == "int":
            value = draw(st.sampled_from(INTERESTING))
            data[pos : pos + 4] = value.to_bytes(4, draw(st.sampled_from(["little", "big"])))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        else:
            end = min(len(data), pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


# -- the harness ---------------------------------------------------------------------------------------


class Harness:
    """One source (recipe) over files the test rewrites each example; one UnitBuilder, reused as a
    worker would."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.recipe = parse_recipe({"name": "fuzz", "tokenizer": {"preset": "tiny"}, "sources": [spec]})
        self.builder = UnitBuilder(self.recipe)
        self.name = spec["name"]

    def check(self) -> int:
        """Plan, read and build every unit; returns the records seen. Raises on any escape."""
        source = self.builder.stages(self.name).source
        seen = 0
        for i, payload in enumerate(source.units()):
            unit = WorkUnit(unit_id(self.name, i), self.name, i, payload)
            outs = list(source.read(unit))
            assert all(isinstance(o, (Item, Reject)) for o in outs), [type(o).__name__ for o in outs]
            records = {o.record for o in outs}
            built = self.builder.build(unit)
            assert isinstance(built, UnitBuild)
            used = {r for s in built.sequences for r in s.records}
            rejected = {r.record for r in built.rejects}
            assert records <= used | rejected, f"lost: {sorted(records - used - rejected)}"
            assert built.records_read == len(used) + len(rejected - used) == len(records)
            seen += len(records)
        return seen


_HARNESSES: dict[str, Harness] = {}


def harness(name: str, spec: dict[str, Any]) -> Harness:
    if name not in _HARNESSES:
        _HARNESSES[name] = Harness(spec)
    return _HARNESSES[name]


def fuzz_root(tmp_path_factory) -> Any:
    """Body of each fuzz module's `root` fixture: a scratch folder; the harnesses closed after."""
    path = tmp_path_factory.mktemp("fuzz")
    yield path
    for h in _HARNESSES.values():
        h.builder.close()
    _HARNESSES.clear()


def _bytes(img: PILImage.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


RNG = np.random.default_rng(0)
PHOTO = picture(RNG, 40, 30)
SEEDS = {
    "jpeg": _bytes(PHOTO, "JPEG", quality=80),
    "png": _bytes(PHOTO.convert("P", palette=PILImage.Palette.ADAPTIVE, colors=16), "PNG"),
    "png16": _bytes(PILImage.fromarray((np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)), "PNG"),
    "webp": _bytes(PHOTO, "WEBP", quality=70),
}
