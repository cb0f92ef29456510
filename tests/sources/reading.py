"""Reading a source the way a worker does, for the source tests: every planned unit through
`Source.read`, then the outputs grouped by record. One copy, so that the tests of each source
check their source and not each its own idea of how units are read."""

from __future__ import annotations

from uvd_pipeline.stages import Source
from uvd_pipeline.types import Item, Reject, WorkUnit


def read_all(src: Source, name: str = "src") -> list[Item | Reject]:
    """Every output of every unit of `src`, in plan order; the source is torn down after, as a
    worker does (mesh sources close their renderer there)."""
    out: list[Item | Reject] = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"{name}-{i:06d}", name, i, payload)))
    src.teardown()
    return out


def items_by_record(outs: list[Item | Reject], rejects_allowed: bool = True) -> dict[str, list[Item]]:
    """Record -> its items in output order. With rejects_allowed=False a reject fails the test,
    naming its record, reason and detail."""
    got: dict[str, list[Item]] = {}
    for o in outs:
        if not rejects_allowed:
            assert isinstance(o, Item), (o.record, getattr(o, "reason", ""), getattr(o, "detail", ""))
        if isinstance(o, Item):
            got.setdefault(o.record, []).append(o)
    return got


def reject_reasons(outs: list[Item | Reject]) -> dict[str, str]:
    """Record -> reason, for outputs that must all be rejects (an item among them fails the test)."""
    assert all(isinstance(o, Reject) for o in outs), [o.record for o in outs if not isinstance(o, Reject)]
    return {o.record: o.reason for o in outs}
