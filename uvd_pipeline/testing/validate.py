"""What a well-formed output of each plugin kind looks like; each function raises AssertionError.

These mirror what pipeline/build.py relies on: a renderer's drawing goes through `to_256`, a
transform's output is used as-is, a sequence's images must be the items' images or views.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import BadInput
from ..ids import canonical_json
from ..images import to_256
from ..types import IMAGE_SIZE, MAX_IMAGES_PER_SEQUENCE, Image, Item, Reject, VisualSequence

REASON = re.compile(r"^[a-z][a-z0-9_]*$")
TASK = re.compile(r"^[a-z0-9_]*$")
SQUARE = (IMAGE_SIZE, IMAGE_SIZE, 3)


def pixels_problem(pixels: Any, shape: tuple[int, ...] | None = None) -> str:
    """'' when `pixels` is an H x W x 3 uint8 array (of `shape` when given), else what is wrong."""
    if not isinstance(pixels, np.ndarray):
        return f"expected a numpy array, got {type(pixels).__name__}"
    if pixels.dtype != np.uint8:
        return f"expected dtype uint8, got {pixels.dtype}"
    if pixels.ndim != 3 or pixels.shape[2] != 3 or min(pixels.shape[:2]) < 1:
        return f"expected H x W x 3, got shape {pixels.shape}"
    if shape is not None and pixels.shape != shape:
        return f"expected shape {shape}, got {pixels.shape}"
    return ""


def json_problem(value: Any) -> str:
    try:
        canonical_json(value)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return ""


def check_reject(rej: Reject, where: str, records: set[str] | None = None) -> None:
    assert isinstance(rej.record, str) and rej.record, f"{where}: a Reject needs the record it rejects, got {rej.record!r}"
    assert isinstance(rej.reason, str) and REASON.match(rej.reason), (
        f"{where}: Reject({rej.record!r}).reason must be a short snake_case code such as 'corrupt_image' "
        f"(details go in .detail), got {rej.reason!r}"
    )
    assert isinstance(rej.detail, str), f"{where}: Reject({rej.record!r}).detail must be a str"
    if records is not None:
        assert rej.record in records, f"{where}: Reject names record {rej.record!r}, which is not among its inputs"


def check_bad_input_reason(exc: BadInput, where: str) -> None:
    assert isinstance(exc.reason, str) and REASON.match(exc.reason), (
        f"{where}: BadInput reason must be a short snake_case code, got {exc.reason!r}"
    )


def check_item(item: Any, where: str) -> None:
    assert isinstance(item, Item), f"{where}: expected Item or Reject, got {type(item).__name__}"
    assert isinstance(item.record, str) and item.record, f"{where}: Item.record must name the input, got {item.record!r}"
    _check_image(item.image, f"{where} (record {item.record!r})")
    assert isinstance(item.meta, dict), f"{where}: Item.meta must be a dict, got {type(item.meta).__name__}"
    problem = json_problem(item.meta)
    assert not problem, f"{where}: Item.meta of {item.record!r} is not JSON-able ({problem}); it is written into manifests"
    for name, view in item.views.items():
        _check_image(view, f"{where}: view {name!r} of {item.record!r}")


def _check_image(image: Any, where: str) -> None:
    assert isinstance(image, Image), f"{where}: expected an Image, got {type(image).__name__}"
    assert isinstance(image.id, str) and image.id, f"{where}: Image.id must name where the pixels came from"
    problem = pixels_problem(image.pixels)
    assert not problem, f"{where}: image {image.id}: {problem}"


def check_source_output(outputs: list[Any], where: str) -> None:
    for out in outputs:
        if isinstance(out, Reject):
            check_reject(out, where)
        else:
            check_item(out, where)


def check_rendering(drawn: Any, item: Item, resample: str, where: str) -> None:
    """None, or the annotation drawn at the item's resolution; it must survive the resize to 256."""
    if drawn is None:
        return
    h, w = item.image.pixels.shape[:2]
    problem = pixels_problem(drawn, (h, w, 3))
    assert not problem, f"{where}: render() must return None or the drawing at the item's resolution: {problem}"
    resized = to_256(drawn, nearest=resample == "nearest")
    assert resized.shape == SQUARE, f"{where}: the drawing resized to {resized.shape}"


def check_transformed(out: Any, where: str) -> None:
    problem = pixels_problem(out, SQUARE)
    assert not problem, f"{where}: apply() must return a 256x256x3 uint8 image: {problem}"


def known_images(items: list[Item]) -> dict[str, np.ndarray]:
    """Every image a sequencer may put in a sequence: the items' images and their views, by id."""
    known = {}
    for it in items:
        known[it.image.id] = it.image.pixels
        for view in it.views.values():
            known[view.id] = view.pixels
    return known


def check_sequencer_output(outputs: list[Any], items: list[Item], where: str) -> int:
    """Validate built sequences and rejects against the items they came from; returns #sequences."""
    records = {it.record for it in items}
    known = known_images(items)
    n = 0
    for out in outputs:
        if isinstance(out, Reject):
            check_reject(out, where, records)
            continue
        assert isinstance(out, VisualSequence), f"{where}: expected VisualSequence or Reject, got {type(out).__name__}"
        n += 1
        k = len(out.images)
        assert 1 <= k <= MAX_IMAGES_PER_SEQUENCE, f"{where}: a sequence holds 1..16 images, got {k}"
        for im in out.images:
            problem = pixels_problem(im.pixels, SQUARE)
            assert not problem, f"{where}: sequence image {im.id}: {problem}"
            assert im.id in known, (
                f"{where}: sequence image {im.id!r} is neither an item's image nor one of its views; "
                "ids name where pixels came from, so a sequencer places existing images"
            )
            assert np.array_equal(known[im.id], im.pixels), f"{where}: image {im.id} carries other pixels than the item's"
        assert out.records and set(out.records) <= records, (
            f"{where}: sequence records {out.records!r} must be non-empty and among the input records"
        )
        assert isinstance(out.task, str) and TASK.match(out.task), (
            f"{where}: task must be snake_case or '' (the recipe's task), got {out.task!r}"
        )
        problem = json_problem(out.provenance)
        assert not problem, f"{where}: provenance is not JSON-able ({problem}); it is written into manifests"
        assert isinstance(out.split_key, str), f"{where}: split_key must be a str, got {type(out.split_key).__name__}"
    return n
