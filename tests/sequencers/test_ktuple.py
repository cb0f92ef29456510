import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.sequencers.ktuple import KTupleSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence

IMG = np.zeros((256, 256, 3), np.uint8)
MODS = ["image", "normal_map", "edge_map", "depth_map", "segmentation_map"]


def _items(n, views=MODS[1:]):
    return [Item(f"r{i}", Image(f"image:{i}", IMG), views={v: Image(f"{v}:{i}", IMG) for v in views}) for i in range(n)]


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, VisualSequence)], [o for o in out if isinstance(o, Reject)]


def test_lvm_default_is_5_modalities_times_3_shots_with_one_order_per_sequence():
    seqs, rejects = _split(KTupleSequencer(modalities=MODS).build(_items(9), np.random.default_rng(0)))
    assert len(seqs) == 3 and not rejects
    orders = []
    for s in seqs:
        assert len(s.images) == 15 and len(s.records) == 3
        order = s.provenance["order"]
        assert sorted(order) == sorted(MODS) and s.provenance["shots"] == 3
        for shot, rec in enumerate(s.records):
            i = rec[1:]
            ids = [im.id for im in s.images[5 * shot : 5 * shot + 5]]
            assert ids == [f"{m}:{i}" for m in order]  # every shot: the same item, the sequence's order
        orders.append(tuple(order))
    assert len(set(orders)) > 1  # a random order per sequence


def test_m_elements_per_shot_and_shots_fit_16_images():
    seqs, _ = _split(KTupleSequencer(modalities=MODS, elements_per_shot=2).build(_items(16), np.random.default_rng(0)))
    assert [len(s.images) for s in seqs] == [16, 16]  # 2 x 8 shots
    for s in seqs:
        order = s.provenance["order"]
        assert len(order) == 2 and set(order) <= set(MODS)
        assert all(s.images[2 * k].id.split(":")[0] == order[0] for k in range(8))
    seqs, _ = _split(KTupleSequencer(modalities=["image", "depth_map"], shots=3).build(_items(6), np.random.default_rng(0)))
    assert [len(s.images) for s in seqs] == [6, 6]


def test_missing_modalities_and_leftovers_are_rejected():
    items = _items(7) + _items(1, views=["normal_map"])
    items[-1].record = "partial"
    seqs, rejects = _split(KTupleSequencer(modalities=MODS).build(items, np.random.default_rng(0)))
    assert len(seqs) == 2
    by_reason = {r.reason: r for r in rejects}
    assert set(by_reason) == {"missing_view", "incomplete_sequence"}
    assert by_reason["missing_view"].record == "partial" and "edge_map" in by_reason["missing_view"].detail
    seqs, rejects = _split(KTupleSequencer(modalities=MODS, min_shots=1).build(_items(7), np.random.default_rng(0)))
    assert [len(s.images) for s in seqs] == [15, 15, 5] and not rejects


@pytest.mark.parametrize("params", [
    {"modalities": MODS, "shots": 4},  # 20 images
    {"modalities": MODS, "elements_per_shot": 6},
    {"modalities": ["image", "image"]},
    {"modalities": MODS, "min_shots": 4},
])
def test_params_are_checked(params):
    with pytest.raises(ValidationError):
        KTupleSequencer(**params)
