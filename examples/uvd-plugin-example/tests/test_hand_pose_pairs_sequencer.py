"""The hand_pose_pairs sequencer: conformance, pair order, grouping, rejects, seeded shuffling."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline import registry
from uvd_pipeline.testing import check_sequencer, sample_items
from uvd_pipeline.types import Reject, VisualSequence
from uvd_plugin_example.sequencer import HandPosePairsSequencer


def test_registered_through_its_entry_point():
    assert registry.load("sequencer", "hand_pose_pairs") is HandPosePairsSequencer


def test_conformance(tmp_path):
    check_sequencer(HandPosePairsSequencer, tmp_dir=tmp_path)


def test_eight_pairs_make_sixteen_images_image_then_skeleton():
    items = sample_items(19, view_names=("hand_skeleton",))
    built = list(HandPosePairsSequencer().build(items, np.random.default_rng(0)))
    assert [len(s.images) for s in built] == [16, 16, 6]
    by_record = {it.record: it for it in items}
    for seq in built:
        for k, record in enumerate(seq.records):
            assert seq.images[2 * k].id == by_record[record].image.id
            assert seq.images[2 * k + 1].id == by_record[record].views["hand_skeleton"].id
    assert sorted(r for s in built for r in s.records) == sorted(by_record)


def test_items_without_the_view_and_short_tails_are_rejected_with_reasons():
    items = sample_items(5, view_names=("hand_skeleton",)) + sample_items(2, seed=9, view_names=())
    built = list(HandPosePairsSequencer(pairs=2, min_pairs=2).build(items, np.random.default_rng(0)))
    reasons = sorted(o.reason for o in built if isinstance(o, Reject))
    assert reasons == ["incomplete_sequence", "no_hand_view", "no_hand_view"]
    assert [len(s.images) for s in built if isinstance(s, VisualSequence)] == [4, 4]


def test_grouping_follows_the_seed():
    items = sample_items(16, view_names=("hand_skeleton",))
    first = lambda seed: [s.records for s in HandPosePairsSequencer().build(items, np.random.default_rng(seed))]  # noqa: E731
    assert first(1) == first(1) and first(1) != first(2)


def test_min_pairs_cannot_exceed_pairs():
    with pytest.raises(ValidationError, match="min_pairs"):
        HandPosePairsSequencer(pairs=2, min_pairs=3)
