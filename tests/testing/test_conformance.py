"""uvd_pipeline.testing: the conformance suite passes good plugins and names the fault of each broken one."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from pydantic import BaseModel

from uvd_pipeline.errors import BadInput
from uvd_pipeline.ids import bytes_id
from uvd_pipeline.images import decode_image, to_rgb_array
from uvd_pipeline.stages import Renderer, Sequencer, Source, Transform
from uvd_pipeline.storage import join, list_files, read_bytes
from uvd_pipeline.testing import (
    check_renderer,
    check_sequencer,
    check_source,
    check_transform,
    conformance,
    corrupt_files,
    fingerprint,
    run_in_fresh_process,
    sample_item,
    sample_items,
    sample_pixels,
    write_sample_images,
)
from uvd_pipeline.types import Image, Item, Reject, VisualSequence, WorkUnit

# -- good plugins: one of each kind --------------------------------------------------------------


class FolderParams(BaseModel):
    model_config = {"extra": "forbid"}
    path: str
    unit_size: int = 2


class GoodSource(Source):
    Params = FolderParams

    def units(self) -> list[dict[str, Any]]:
        _, inner, files = list_files(self.params.path, (".png",))
        n = self.params.unit_size
        return [{"root": inner, "files": files[i : i + n]} for i in range(0, len(files), n)]

    def count_records(self, payload):
        return len(payload["files"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        for rel in unit.payload["files"]:
            data = read_bytes(join(unit.payload["root"], rel))
            try:
                pixels = to_rgb_array(decode_image(data, rel))
            except BadInput as exc:
                yield Reject(rel, exc.reason, exc.detail)
                continue
            yield Item(rel, Image(bytes_id(data), pixels))

    @classmethod
    def conformance_example(cls, tmp_dir):
        write_sample_images(tmp_dir / "png", n=3)
        return {"params": {"path": str(tmp_dir / "png")}}


class GoodRenderer(Renderer):
    """Fills meta['box'] = [x0, y0, x1, y1] in white."""

    def render(self, item: Item) -> np.ndarray | None:
        box = item.meta.get("box")
        if box is None:
            return None
        try:
            x0, y0, x1, y1 = (int(v) for v in box)
        except (TypeError, ValueError, OverflowError):
            raise BadInput("bad_box", f"{item.record}: box {box!r}") from None
        out = np.zeros_like(item.image.pixels)
        out[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 255
        return out

    @classmethod
    def conformance_example(cls, tmp_dir):
        return {"items": [sample_item(0, meta={"box": [4, 4, 40, 30]}), sample_item(1)],
                "bad_items": [sample_item(2, meta={"box": ["a"]})]}


class GoodTransform(Transform):
    def apply(self, pixels, rng):
        out = pixels.copy()
        y, x = rng.integers(0, 200, 2)
        out[y : y + 32, x : x + 32] = 0
        return out


class GoodSequencer(Sequencer):
    def build(self, items, rng):
        order = [items[i] for i in rng.permutation(len(items))]
        for start in range(0, len(order), 3):
            group = order[start : start + 3]
            yield VisualSequence([im for it in group for im in (it.image, *it.views.values())][:16], "", [it.record for it in group])


def test_good_plugins_pass_every_check(tmp_path):
    for report in (
        check_source(GoodSource, tmp_dir=tmp_path / "s", fresh_process=False),
        check_renderer(GoodRenderer, tmp_dir=tmp_path / "r", fresh_process=False),
        check_transform(GoodTransform, fresh_process=False),
        check_sequencer(GoodSequencer, fresh_process=False),
    ):
        assert report.passed and not report.failures
        assert {r.name for r in report.results} >= {"params", "outputs", "determinism", "bad input", "pickling"}


def test_a_good_plugin_survives_a_fresh_worker_process(tmp_path):
    report = check_renderer(GoodRenderer, tmp_dir=tmp_path)
    assert [r.status for r in report.results if r.name == "fresh worker"] == ["pass"]


class ChattyTransform(GoodTransform):
    """Prints to stdout while it works, as some model libraries do when they load weights."""

    def apply(self, pixels, rng):
        print("loading weights from somewhere ...")
        return super().apply(pixels, rng)


def test_a_plugin_that_prints_to_stdout_still_passes_the_fresh_worker_check():
    report = check_transform(ChattyTransform)
    assert [r.status for r in report.results if r.name == "fresh worker"] == ["pass"], report.format()


# -- broken plugins: each has one fault that one check must name ---------------------------------


class FloatRenderer(GoodRenderer):
    def render(self, item):
        out = super().render(item)
        return None if out is None else out.astype(np.float32)


class SmallRenderer(GoodRenderer):
    def render(self, item):
        return None if "box" not in item.meta else np.zeros((64, 64, 3), np.uint8)


class NoisyRenderer(GoodRenderer):
    def render(self, item):
        out = super().render(item)
        return None if out is None else (out + np.random.randint(0, 5, out.shape)).astype(np.uint8)


class MutatingRenderer(GoodRenderer):
    def render(self, item):
        item.meta.setdefault("seen", True)
        return super().render(item)


class TrustingRenderer(GoodRenderer):
    def render(self, item):
        if "box" not in item.meta:
            return None
        x0, y0, x1, y1 = item.meta["box"]  # garbage raises TypeError: escapes the worker
        out = np.zeros_like(item.image.pixels)
        out[int(y0) : int(y1), int(x0) : int(x1)] = 255
        return out


class LockedRenderer(GoodRenderer):
    def __init__(self, **params):
        super().__init__(**params)
        self.lock = threading.Lock()


class LooseParams(BaseModel):
    width: int = 1


class LooseRenderer(GoodRenderer):
    Params = LooseParams


class GlobalRandomTransform(Transform):
    def apply(self, pixels, rng):
        return np.roll(pixels, random.randint(1, 50), axis=1)


class InPlaceTransform(Transform):
    def apply(self, pixels, rng):
        pixels[:8] = 0
        return pixels


class HalfTransform(Transform):
    def apply(self, pixels, rng):
        return pixels[::2, ::2].copy()


class GreedySequencer(Sequencer):
    def build(self, items, rng):
        if items:
            yield VisualSequence([im for it in items for im in (it.image, *it.views.values())][:32], "", [i.record for i in items])


class FirstItemSequencer(Sequencer):
    def build(self, items, rng):
        yield VisualSequence([items[0].image], "", [items[0].record])  # IndexError on no items


class InventingSequencer(Sequencer):
    def build(self, items, rng):
        for it in items:
            px = 255 - it.image.pixels
            yield VisualSequence([Image("made-up", px)], "", [it.record])


class VagueRejectSequencer(Sequencer):
    def build(self, items, rng):
        for it in items[1:]:
            yield Reject(it.record, "Something went wrong!")
        if items:
            yield VisualSequence([items[0].image], "", [items[0].record])


class RaisingSource(GoodSource):
    def read(self, unit):
        for rel in unit.payload["files"]:
            data = read_bytes(join(unit.payload["root"], rel))
            yield Item(rel, Image(bytes_id(data), to_rgb_array(decode_image(data, rel))))


class TupleSource(GoodSource):
    def units(self):
        return [{**u, "files": tuple(u["files"])} for u in super().units()]


class MiscountingSource(GoodSource):
    def count_records(self, payload):
        return 99


class StatefulSource(GoodSource):
    def __init__(self, **params):
        super().__init__(**params)
        self.seen = 0

    def read(self, unit):
        for out in super().read(unit):
            self.seen += 1
            if isinstance(out, Item):
                out.meta["n"] = self.seen
            yield out


BROKEN = [
    ("renderer", FloatRenderer, "outputs", "dtype uint8"),
    ("renderer", SmallRenderer, "outputs", "the item's resolution"),
    ("renderer", NoisyRenderer, "determinism", "rng argument"),
    ("renderer", MutatingRenderer, "inputs kept", "in place"),
    ("renderer", TrustingRenderer, "bad input", "render() raised TypeError"),
    ("renderer", LockedRenderer, "pickling", "setup()"),
    ("renderer", LooseRenderer, "params", "extra='forbid'"),
    ("transform", GlobalRandomTransform, "determinism", "rng argument"),
    ("transform", InPlaceTransform, "inputs kept", "in place"),
    ("transform", HalfTransform, "outputs", "256x256x3"),
    ("sequencer", GreedySequencer, "bad input", "40 items"),
    ("sequencer", FirstItemSequencer, "bad input", "no items: build() raised IndexError"),
    ("sequencer", InventingSequencer, "outputs", "neither an item's image"),
    ("sequencer", VagueRejectSequencer, "outputs", "snake_case"),
    ("source", RaisingSource, "bad input", "read(unit 0) raised BadInput"),
    ("source", TupleSource, "outputs", "not plain JSON"),
    ("source", MiscountingSource, "outputs", "count_records() says"),
    ("source", StatefulSource, "determinism", "other units were read"),
]


@pytest.mark.parametrize("kind,cls,check,fragment", BROKEN, ids=[b[1].__name__ for b in BROKEN])
def test_each_fault_fails_its_check_with_a_clear_message(tmp_path, kind, cls, check, fragment):
    report = conformance(kind, cls, tmp_dir=tmp_path, fresh_process=False)
    failed = {r.name: r.message for r in report.failures}
    assert check in failed, report.format()
    assert fragment in failed[check], failed[check]
    assert not report.passed


def test_check_helpers_raise_assertion_error_listing_the_failures(tmp_path):
    with pytest.raises(AssertionError) as err:
        check_renderer(FloatRenderer, tmp_dir=tmp_path, fresh_process=False)
    text = str(err.value)
    assert "renderer plugin 'FloatRenderer': FAILED" in text and "✗ outputs" in text and "float32" in text


def test_a_source_without_example_or_params_is_told_what_to_add():
    class NoExampleSource(GoodSource):
        @classmethod
        def conformance_example(cls, tmp_dir):
            return None

    report = conformance("source", NoExampleSource, fresh_process=False)
    assert not report.passed and "conformance_example" in report.failures[0].message


def test_a_renderer_that_draws_nothing_on_generic_items_asks_for_an_example():
    class Quiet(GoodRenderer):
        @classmethod
        def conformance_example(cls, tmp_dir):
            return None

    report = conformance("renderer", Quiet, fresh_process=False)
    assert "declare conformance_example" in report.failures[0].message


def test_a_misspelt_example_key_is_named(tmp_path):
    class Typo(GoodRenderer):
        @classmethod
        def conformance_example(cls, tmp_dir):
            return {"item": []}

    report = conformance("renderer", Typo, tmp_dir=tmp_path, fresh_process=False)
    assert "unknown keys ['item']" in report.failures[0].message


def test_the_wrong_kind_is_refused():
    report = conformance("sequencer", GoodTransform)
    assert report.failures[0].name == "kind" and "Sequencer subclass" in report.failures[0].message


# -- sample makers and shipping ------------------------------------------------------------------


def test_sample_makers_are_deterministic_and_real(tmp_path):
    assert np.array_equal(sample_pixels(3, (40, 50)), sample_pixels(3, (40, 50)))
    assert sample_pixels(3, (40, 50)).shape == (40, 50, 3)
    assert not np.array_equal(sample_pixels(3), sample_pixels(4))
    items = sample_items(3, view_names=("a", "b"))
    assert [it.image.pixels.shape for it in items] == [(256, 256, 3)] * 3 and set(items[0].views) == {"a", "b"}
    assert len({it.image.id for it in items}) == 3
    paths = write_sample_images(tmp_path / "imgs", n=2, fmt="jpg")
    with PILImage.open(paths[1]) as im:
        assert im.format == "JPEG" and im.size == (80, 120)


@pytest.mark.parametrize("mode", ["truncate", "garbage", "mixed", "empty"])
def test_corrupt_files_breaks_real_images(tmp_path, mode):
    paths = write_sample_images(tmp_path, n=2)
    before = [p.read_bytes() for p in paths]
    changed = corrupt_files(tmp_path, mode)
    assert changed == (paths[1:] if mode == "mixed" else paths)
    for p in changed:
        with pytest.raises(BadInput):
            decode_image(p.read_bytes(), p.name)
    if mode == "mixed":
        assert paths[0].read_bytes() == before[0]


def test_fingerprint_tells_outputs_apart():
    a = [sample_item(0, meta={"k": [1, 2]}), Reject("x", "bad")]
    assert fingerprint(a) == fingerprint([sample_item(0, meta={"k": [1, 2]}), Reject("x", "bad")])
    assert fingerprint(a) != fingerprint([sample_item(0, meta={"k": [1, 3]}), Reject("x", "bad")])
    assert fingerprint([np.zeros((2, 2, 3), np.uint8)]) != fingerprint([np.zeros((2, 2, 3), np.uint16)])


def test_fresh_process_runs_the_same_code_and_reports_crashes():
    items = sample_items(4)
    from uvd_pipeline.testing.shipping import invoke

    assert run_in_fresh_process("sequencer", GoodSequencer(), items, 5) == fingerprint(invoke("sequencer", GoodSequencer(), items, 5))
    with pytest.raises(AssertionError, match="IndexError"):
        run_in_fresh_process("sequencer", FirstItemSequencer(), [], 0)
