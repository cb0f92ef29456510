"""The kind-specific half of the conformance suite: sample inputs, output rules, bad inputs.

What counts as "bad input handled" follows pipeline/build.py: a source's read() must yield
Reject rows (an exception fails the whole unit); a renderer or transform may raise BadInput or
ValueError (the item becomes a reject); a sequencer may raise BadInput only (all its items become
rejects).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput, UvdError
from ..ids import canonical_json
from ..types import Image, Item, Reject, VisualSequence, WorkUnit
from . import filter_kind, validate
from .examples import example_for
from .report import Skip
from .samples import corrupt_files, sample_item, sample_items, sample_pixels, sample_units
from .shipping import fingerprint, invoke
from .subject import Subject

SOURCE_CORRUPTIONS = {
    "truncate": "every file cut in half",
    "garbage": "every file replaced by random bytes",
    "mixed": "every other file replaced by random bytes",
    "empty": "every file emptied",
}
MAX_LISTED = 6


def make_subject(kind, cls, params, example, inputs, seed, max_units):
    if kind == "source":
        source = cls(**params)
        units = sample_units(source, limit=max_units)
        return Subject(kind, cls, params, units, seed)
    if inputs is None:
        inputs = example.get("images" if kind in ("transform", "filter") else "items")
    if inputs is None:
        if kind == "filter":
            inputs = filter_kind.default_images()
        elif kind == "renderer":
            inputs = [sample_item(0), sample_item(1, (120, 80))]
        elif kind == "transform":
            inputs = [sample_pixels(0, (256, 256)), sample_pixels(1, (256, 256))]
        else:
            inputs = sample_items(4)
    return Subject(kind, cls, params, list(inputs), seed)


# -- outputs -------------------------------------------------------------------------------------


def check_outputs(subject, outs: list[Any], example: dict[str, Any] | None = None) -> str:
    kind = subject.kind
    if kind == "filter":
        return filter_kind.check_outputs(subject, outs, example or {})
    if kind == "source":
        return _source_outputs(subject)
    if kind == "renderer":
        resample = subject.cls.resample
        assert resample in ("default", "nearest"), f"Renderer.resample must be 'default' or 'nearest', got {resample!r}"
        for i, (item, drawn) in enumerate(zip(subject.inputs, outs)):
            validate.check_rendering(drawn, item, resample, f"item {i} ({item.record})")
        drawn_n = sum(d is not None for d in outs)
        assert drawn_n, (
            "render() returned None for every sample item, so nothing was checked; declare "
            "conformance_example(tmp_dir) returning {'items': [...]} with this renderer's annotation in item.meta"
        )
        return f"drew {drawn_n} of {len(outs)} sample items"
    if kind == "transform":
        for i, out in enumerate(outs):
            validate.check_transformed(out, f"image {i}")
        return f"{len(outs)} images"
    n = validate.check_sequencer_output(outs, subject.inputs, "build()")
    assert n, "build() made no sequence from the sample items; declare conformance_example with items it can use"
    return f"{n} sequences, {sum(isinstance(o, Reject) for o in outs)} rejects from {len(subject.inputs)} items"


def _source_outputs(subject) -> str:
    source = subject.make()
    payloads = source.units()
    assert isinstance(payloads, list) and payloads, "units() must return a non-empty list of payload dicts for the example"
    for p in payloads:
        assert isinstance(p, dict), f"a unit payload must be a dict, got {type(p).__name__}"
        assert json.loads(canonical_json(p)) == p, f"unit payload {p!r} is not plain JSON (lists, not tuples; str keys)"
    assert subject.make().units() == payloads, "units() gave different payloads on a second call"
    n_items = n_rejects = 0
    reasons: dict[str, int] = {}
    for unit in subject.inputs:
        outs = invoke("source", subject.make(), [unit])
        validate.check_source_output(outs, f"read(unit {unit.index})")
        n_items += sum(isinstance(o, Item) for o in outs)
        for o in outs:
            if isinstance(o, Reject):
                n_rejects += 1
                reasons[o.reason] = reasons.get(o.reason, 0) + 1
        expected = source.count_records(unit.payload)
        got = len({o.record for o in outs})
        assert expected is None or expected == got, (
            f"count_records() says unit {unit.index} holds {expected} records, read() gave {got}"
        )
    assert n_items, (
        f"read() gave no Item from the example's units, only rejects {reasons}; the example should hold readable data"
    )
    return f"{len(payloads)} units, {n_items} items and {n_rejects} rejects from the first {len(subject.inputs)}"


# -- inputs kept and order -----------------------------------------------------------------------


def check_inputs_kept(subject) -> str:
    if subject.kind == "source":
        raise Skip("a source reads files; it is given no objects")
    subject.run()
    assert fingerprint(subject.inputs) == subject.inputs_fingerprint, (
        "the plugin modified its inputs (pixels, meta or views) in place; build.py reuses them: copy before changing"
    )
    return ""


def check_order_independence(subject) -> None:
    """Sources: a unit reads the same whichever units a worker read before it."""
    if subject.kind != "source" or len(subject.inputs) < 2:
        return
    plugin = subject.make()
    backwards = [fingerprint(invoke("source", plugin, [u])) for u in reversed(subject.inputs)]
    forwards = [fingerprint(invoke("source", subject.make(), [u])) for u in subject.inputs]
    assert backwards[::-1] == forwards, "a unit read differently after other units were read by the same instance"


# -- bad input -----------------------------------------------------------------------------------


def check_bad_input(subject, example: dict[str, Any], tmp: Path) -> str:
    return {"source": _bad_source, "renderer": _bad_renderer, "transform": _bad_transform, "sequencer": _bad_sequencer,
            "filter": _bad_filter}[
        subject.kind
    ](subject, example, tmp)


def _fail_if(problems: list[str], total: int) -> None:
    if problems:
        shown = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else [])
        raise AssertionError(f"{len(problems)} problem(s) across {total} bad-input cases:\n" + "\n".join(shown))


def _bad_source(subject, example, tmp: Path) -> str:
    cases: list[tuple[str, dict[str, Any], bool]] = []
    if example:
        for mode, label in SOURCE_CORRUPTIONS.items():
            folder = tmp / mode
            folder.mkdir(parents=True, exist_ok=True)
            again = example_for(subject.kind, subject.cls, folder) or {}
            corrupt_files(folder, mode)
            cases.append((label, again.get("params", {}), mode == "garbage"))
    if "bad_params" in example:
        cases.append(("the example's bad_params", example["bad_params"], True))
    if not cases:
        raise Skip("no conformance_example: the suite never corrupts data it did not write")
    problems, notes = [], []
    for label, params, must_reject in cases:
        try:
            payloads = subject.cls(**params).units()
        except (UvdError, BadInput, ValueError, OSError) as exc:
            if not str(exc).strip():
                problems.append(f"{label}: units() raised {type(exc).__name__} with no message")
            notes.append(f"{label}: refused when planning")
            continue
        except Exception as exc:
            problems.append(
                f"{label}: units() raised {type(exc).__name__}: {exc} — raise a clear error (errors.UvdError, "
                "BadInput, ValueError) or plan the units and reject records in read()"
            )
            continue
        read = rejected = 0
        for i, payload in enumerate(payloads[: 2 * len(subject.inputs) or 1]):
            unit = WorkUnit(f"bad-{i:06d}", "conformance", i, payload)
            try:
                outs = invoke("source", subject.make_from(params), [unit])
                validate.check_source_output(outs, f"{label}: read(unit {i})")
            except AssertionError as exc:
                problems.append(str(exc))
                continue
            except Exception as exc:
                problems.append(
                    f"{label}: read(unit {i}) raised {type(exc).__name__}: {exc} — yield "
                    "Reject(record, reason, detail) instead; an exception fails the whole unit"
                )
                continue
            read += len({o.record for o in outs})
            rejected += sum(isinstance(o, Reject) for o in outs)
        if must_reject and read and not rejected:
            problems.append(f"{label}: read {read} records and rejected none")
        notes.append(f"{label}: {rejected} rejects")
    _fail_if(problems, len(cases))
    return "; ".join(notes)


def _mutations(meta: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [("meta {}", {})]
    for key in meta:
        for label, value in (
            ("None", None), ("'garbage'", "garbage"), ("[]", []), ("{}", {}), ("-1", -1),
            ("NaN", float("nan")), ("[[1e12, -1e12]]", [[1e12, -1e12]]), ("[['x', 'y', 'z']]", [["x", "y", "z"]]),
        ):
            out.append((f"meta[{key!r}] = {label}", {**meta, key: value}))
    return out


def _bad_renderer(subject, example, tmp) -> str:
    plugin = subject.make()
    plugin.setup()
    problems, total = [], 0
    try:
        annotated = [it for it in subject.inputs if plugin.render(copy.deepcopy(it)) is not None]
        cases = []
        for it in annotated[:2]:
            for label, meta in _mutations(it.meta):
                cases.append((f"{it.record}: {label}", Item(it.record, it.image, meta, dict(it.views)), False))
            tiny = Image(it.image.id + "-1x1", np.zeros((1, 1, 3), np.uint8))
            cases.append((f"{it.record}: a 1x1 image", Item(it.record, tiny, copy.deepcopy(it.meta)), False))
        cases += [(f"bad_items[{i}]", it, True) for i, it in enumerate(example.get("bad_items", []))]
        for label, item, must_reject in cases:
            total += 1
            try:
                drawn = plugin.render(item)
            except BadInput as exc:
                _collect(problems, lambda exc=exc: validate.check_bad_input_reason(exc, label))
                continue
            except ValueError:
                continue  # build.py rejects it as 'bad_annotation'
            except Exception as exc:
                problems.append(f"{label}: render() raised {type(exc).__name__}: {exc} — raise errors.BadInput(reason, detail)")
                continue
            if must_reject:
                problems.append(f"{label}: a declared bad item was drawn instead of raising BadInput")
            _collect(problems, lambda: validate.check_rendering(drawn, item, subject.cls.resample, label))
    finally:
        plugin.teardown()
    _fail_if(problems, total)
    return f"{total} broken annotations handled"


def _collect(problems: list[str], check) -> None:
    try:
        check()
    except AssertionError as exc:
        problems.append(str(exc))


def _bad_transform(subject, example, tmp) -> str:
    checker = (np.indices((256, 256)).sum(0) % 2 * 255).astype(np.uint8)
    cases = {
        "all black": np.zeros((256, 256, 3), np.uint8),
        "all white": np.full((256, 256, 3), 255, np.uint8),
        "flat grey": np.full((256, 256, 3), 128, np.uint8),
        "1-pixel checkerboard": np.repeat(checker[:, :, None], 3, axis=2),
    }
    problems = []
    for label, px in cases.items():
        try:
            out = invoke("transform", subject.make(), [px], subject.seed)[0]
        except BadInput as exc:
            _collect(problems, lambda exc=exc: validate.check_bad_input_reason(exc, label))
            continue
        except ValueError:
            continue  # build.py rejects the item as 'bad_annotation'
        except Exception as exc:
            problems.append(f"{label}: apply() raised {type(exc).__name__}: {exc} — raise errors.BadInput(reason, detail)")
            continue
        _collect(problems, lambda: validate.check_transformed(out, label))
    _fail_if(problems, len(cases))
    return f"{len(cases)} degenerate images handled"


def _bad_filter(subject, example, tmp) -> str:
    problems: list[str] = []
    total = filter_kind.check_bad_input(subject, problems, _collect)
    _fail_if(problems, total)
    return f"{total} degenerate images scored"


def _bad_sequencer(subject, example, tmp) -> str:
    items = subject.inputs
    many = [
        Item(f"{it.record}#{k}", it.image, copy.deepcopy(it.meta), dict(it.views))
        for k in range(-(-40 // max(1, len(items))))
        for it in items
    ][:40]
    cases: list[tuple[str, list[Item], bool]] = [
        ("no items", [], False),
        ("one item", items[:1], False),
        ("40 items", many, False),
        ("items without views", [Item(it.record, it.image, copy.deepcopy(it.meta)) for it in items], False),
        ("items without meta", [Item(it.record, it.image, {}, dict(it.views)) for it in items], False),
    ]
    if "bad_items" in example:
        cases.append(("the example's bad_items", list(example["bad_items"]), True))
    problems = []
    for label, case_items, must_reject in cases:
        try:
            outs = invoke("sequencer", subject.make(), case_items, subject.seed)
        except BadInput as exc:
            _collect(problems, lambda exc=exc: validate.check_bad_input_reason(exc, label))
            continue
        except Exception as exc:
            problems.append(
                f"{label}: build() raised {type(exc).__name__}: {exc} — yield Reject(record, reason) for items "
                "it cannot use (or raise errors.BadInput); any other exception fails the whole unit"
            )
            continue
        _collect(problems, lambda: validate.check_sequencer_output(outs, case_items, label))
        if label == "no items" and any(isinstance(o, VisualSequence) for o in outs):
            problems.append("no items: build() made a sequence out of nothing")
        if must_reject and not any(isinstance(o, Reject) for o in outs):
            problems.append(f"{label}: no Reject for the declared bad items")
    _fail_if(problems, len(cases))
    return f"{len(cases)} awkward item lists handled"
