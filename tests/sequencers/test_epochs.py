"""`epochs` for pairs and k-tuples against the LVM scripts' rule, re-implemented here from its
description (DESIGN.md): `n_epochs` passes, each a fresh random permutation of the items cut into
groups of `n_shots`; k-tuples draw one random task order per sequence."""

from collections import Counter

import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.sequencers.ktuple import KTupleSequencer
from uvd_pipeline.sequencers.pairs import PairsSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence

MODALITIES = ["image", "normal_map", "edge_map", "depth_map", "segmentation_map"]


_PIXELS = np.zeros((256, 256, 3), np.uint8)  # sequencers only move images around: one array for all


def _px(value: int) -> np.ndarray:
    return _PIXELS


def _items(n: int, views=("coco_boxes",)) -> list[Item]:
    return [Item(f"r{i}", Image(f"img{i}", _px(i)), views={v: Image(f"{v}{i}", _px(i)) for v in views})
            for i in range(n)]


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, VisualSequence)], [o for o in out if isinstance(o, Reject)]


def lvm_groups(n_items: int, n_shots: int, n_epochs: int, rng: np.random.Generator, task_orders: int = 0):
    """The LVM rule: per epoch a fresh permutation into groups of n_shots (a short tail makes no
    group); with task_orders = k, each group also draws its own order of the k modalities."""
    groups = []
    for _ in range(n_epochs):
        perm = rng.permutation(n_items)
        for start in range(0, n_items - n_shots + 1, n_shots):
            group = [int(i) for i in perm[start : start + n_shots]]
            order = [int(i) for i in rng.permutation(task_orders)] if task_orders else None
            groups.append((group, order))
    return groups


def _record_index(seq: VisualSequence) -> list[int]:
    return [int(r[1:]) for r in seq.records]


def test_pairs_epochs_are_the_lvm_passes_drawn_from_the_sequencer_rng():
    seqs, rejects = _split(PairsSequencer(epochs=5).build(_items(64), np.random.default_rng(7)))
    expected = lvm_groups(64, 8, 5, np.random.default_rng(7))
    assert [_record_index(s) for s in seqs] == [g for g, _ in expected] and not rejects
    assert [s.provenance["epoch"] for s in seqs] == [e for e in range(5) for _ in range(8)]


def test_pairs_epochs_multiplicity_partner_variety_and_no_repeat_within_a_sequence():
    n, epochs = 64, 5
    seqs, rejects = _split(PairsSequencer(epochs=epochs).build(_items(n), np.random.default_rng(3)))
    assert not rejects and len(seqs) == epochs * n // 8
    assert PairsSequencer(epochs=epochs).predict(n) == (len(seqs), sum(len(s.images) for s in seqs))
    count = Counter(r for s in seqs for r in s.records)
    assert set(count.values()) == {epochs}  # each item in exactly `epochs` sequences (8 divides 64)
    partners: dict[str, set[str]] = {}
    for s in seqs:
        assert len(set(s.records)) == len(s.records) == 8  # never twice in one sequence
        assert len({im.id for im in s.images}) == 16
        for r in s.records:
            partners.setdefault(r, set()).update(set(s.records) - {r})
    # fresh permutations: about 63 * (1 - (56/63)^5) = 28 distinct partners, against 7 in one pass
    reference_rng = np.random.default_rng(99)
    ref_partners: dict[int, set[int]] = {}
    for group, _ in lvm_groups(n, 8, epochs, reference_rng):
        for i in group:
            ref_partners.setdefault(i, set()).update(set(group) - {i})
    ours = np.mean([len(p) for p in partners.values()])
    ref = np.mean([len(p) for p in ref_partners.values()])
    assert abs(ours - ref) < 3 and ours > 20 and min(len(p) for p in partners.values()) > 7


def test_pairs_items_left_in_every_tail_are_rejected_once_the_others_are_used():
    n, epochs = 67, 5  # 3 left over per pass
    seqs, rejects = _split(PairsSequencer(epochs=epochs).build(_items(n), np.random.default_rng(11)))
    used = {r for s in seqs for r in s.records}
    rejected = {r.record for r in rejects}
    assert used | rejected == {f"r{i}" for i in range(n)} and not used & rejected
    assert {r.reason for r in rejects} <= {"incomplete_sequence"}
    count = Counter(r for s in seqs for r in s.records)
    assert len(seqs) == epochs * 8 and sum(count.values()) == epochs * 64
    assert max(count.values()) <= epochs
    expected = lvm_groups(n, 8, epochs, np.random.default_rng(11))
    assert [_record_index(s) for s in seqs] == [g for g, _ in expected]
    assert PairsSequencer(epochs=epochs).predict(n) == (40, 640)


def test_ktuple_epochs_follow_the_lvm_passes_with_one_task_order_per_sequence():
    n, epochs = 30, 5
    seq = KTupleSequencer(modalities=MODALITIES, epochs=epochs)
    seqs, rejects = _split(seq.build(_items(n, MODALITIES[1:]), np.random.default_rng(5)))
    expected = lvm_groups(n, 3, epochs, np.random.default_rng(5), task_orders=len(MODALITIES))
    assert [_record_index(s) for s in seqs] == [g for g, _ in expected] and not rejects
    assert [s.provenance["order"] for s in seqs] == [[MODALITIES[i] for i in o] for _, o in expected]
    count = Counter(r for s in seqs for r in s.records)
    assert set(count.values()) == {epochs}
    assert all(len(set(s.records)) == 3 and len(s.images) == 15 for s in seqs)
    assert seq.predict(n) == (len(seqs), 15 * len(seqs)) == (50, 750)


def test_one_epoch_is_the_default_and_leaves_params_and_draws_as_before():
    assert "epochs" not in PairsSequencer().params_dict  # sequence ids of existing datasets hold
    assert PairsSequencer(epochs=5).params_dict["epochs"] == 5
    assert "epochs" not in KTupleSequencer(modalities=MODALITIES).params_dict
    one, _ = _split(PairsSequencer().build(_items(16), np.random.default_rng(0)))
    assert [_record_index(s) for s in one] == [g for g, _ in lvm_groups(16, 8, 1, np.random.default_rng(0))]
    assert all("epoch" not in s.provenance for s in one)


@pytest.mark.parametrize("cls, params", [
    (PairsSequencer, {"epochs": 0}),
    (PairsSequencer, {"epochs": 2, "shuffle": False}),
    (KTupleSequencer, {"modalities": MODALITIES, "epochs": 3, "shuffle": False}),
])
def test_bad_epochs_are_refused(cls, params):
    with pytest.raises(ValidationError, match="epochs"):
        cls(**params)
