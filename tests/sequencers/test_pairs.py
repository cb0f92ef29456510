import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.sequencers.pairs import PairsSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence


def _img(name, value=0):
    return Image(name, np.full((256, 256, 3), value % 256, np.uint8))


def _items(n, view="coco_boxes"):
    return [Item(f"r{i}", _img(f"img{i}", i), views={view: _img(f"view{i}", 100 + i)}) for i in range(n)]


def _split(out):
    out = list(out)
    seqs = [o for o in out if isinstance(o, VisualSequence)]
    rejects = [o for o in out if isinstance(o, Reject)]
    return seqs, rejects


def test_eight_pairs_make_sixteen_images_image_then_view():
    seqs, rejects = _split(PairsSequencer().build(_items(16), np.random.default_rng(0)))
    assert len(seqs) == 2 and not rejects
    for s in seqs:
        assert len(s.images) == 16 and len(s.records) == 8
        for k, rec in enumerate(s.records):
            i = int(rec[1:])
            assert s.images[2 * k].id == f"img{i}" and s.images[2 * k + 1].id == f"view{i}"  # pairing kept
        assert s.provenance == {"view": ["coco_boxes"], "pairs": 8, "order": "image_first"}
    assert sorted(r for s in seqs for r in s.records) == sorted(f"r{i}" for i in range(16))


def test_view_first_puts_the_corruption_before_the_original():
    seqs, _ = _split(PairsSequencer(view="inpainting", view_first=True).build(_items(8, "inpainting"), np.random.default_rng(0)))
    s = seqs[0]
    assert all(s.images[2 * k].id.startswith("view") and s.images[2 * k + 1].id.startswith("img") for k in range(8))
    assert all(s.images[2 * k].id[4:] == s.images[2 * k + 1].id[3:] for k in range(8))


def test_leftovers_are_rejected_unless_min_pairs_allows_a_shorter_sequence():
    seqs, rejects = _split(PairsSequencer().build(_items(11), np.random.default_rng(0)))
    assert len(seqs) == 1 and len(rejects) == 3
    assert {r.reason for r in rejects} == {"incomplete_sequence"} and "min_pairs" in rejects[0].detail
    seqs, rejects = _split(PairsSequencer(min_pairs=2).build(_items(11), np.random.default_rng(0)))
    assert [len(s.images) for s in seqs] == [16, 6] and not rejects


def test_shuffle_is_seeded_and_can_be_turned_off():
    a = [s.records for s in PairsSequencer().build(_items(16), np.random.default_rng(4))]
    b = [s.records for s in PairsSequencer().build(_items(16), np.random.default_rng(4))]
    c = [s.records for s in PairsSequencer().build(_items(16), np.random.default_rng(5))]
    assert a == b and a != c
    plain = [s.records for s in PairsSequencer(shuffle=False).build(_items(16), np.random.default_rng(4))]
    assert plain == [[f"r{i}" for i in range(8)], [f"r{i}" for i in range(8, 16)]]


def test_items_without_the_view_or_with_several_are_rejected():
    items = _items(8)
    items.append(Item("bare", _img("bare")))
    items.append(Item("two", _img("two"), views={"a": _img("a"), "b": _img("b")}))
    seqs, rejects = _split(PairsSequencer().build(items, np.random.default_rng(0)))
    assert len(seqs) == 1
    assert {(r.record, r.reason) for r in rejects} == {("bare", "missing_view"), ("two", "ambiguous_view")}
    _, rejects = _split(PairsSequencer(view="depth").build(_items(2), np.random.default_rng(0)))
    assert {r.reason for r in rejects} == {"missing_view"}


def test_params_are_checked():
    with pytest.raises(ValidationError):
        PairsSequencer(pairs=9)
    with pytest.raises(ValidationError):
        PairsSequencer(pairs=4, min_pairs=5)
