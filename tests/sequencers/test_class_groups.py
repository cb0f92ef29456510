import collections

import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.sequencers.class_groups import ClassGroupsSequencer
from uvd_pipeline.types import Image, Item, Reject, VisualSequence

IMG = np.zeros((256, 256, 3), np.uint8)


def _items(per_class: dict[str, int]):
    return [Item(f"{c}/{k}", Image(f"{c}-{k}", IMG), meta={"class": c}) for c, n in per_class.items() for k in range(n)]


def _split(out):
    out = list(out)
    return [o for o in out if isinstance(o, VisualSequence)], [o for o in out if isinstance(o, Reject)]


def _groups(seq):
    """The runs of one class in a sequence, in order."""
    classes = [r.split("/")[0] for r in seq.records]
    runs = []
    for c in classes:
        if runs and runs[-1][0] == c:
            runs[-1][1] += 1
        else:
            runs.append([c, 1])
    return runs


def test_sequences_are_16_images_in_equal_groups_of_distinct_classes():
    seqs, rejects = _split(ClassGroupsSequencer().build(_items({f"c{i}": 16 for i in range(8)}), np.random.default_rng(0)))
    assert seqs and sum(len(s.images) for s in seqs) + len(rejects) == 128
    sizes = collections.Counter()
    for s in seqs:
        g = s.provenance["group_size"]
        sizes[g] += 1
        assert len(s.images) == 16 and g in (2, 4, 8, 16)
        runs = _groups(s)
        assert [n for _, n in runs] == [g] * (16 // g)  # contiguous groups of g
        assert len({c for c, _ in runs}) == 16 // g == len(s.provenance["classes"])  # one class per group
        assert [c for c, _ in runs] == s.provenance["classes"]
    assert len(sizes) >= 3  # g is drawn per sequence
    assert {r.reason for r in rejects} <= {"incomplete_group"}


def test_group_size_draws_follow_the_configured_set_and_the_seed():
    items = _items({f"c{i}": 16 for i in range(8)})
    a = [(s.provenance["group_size"], s.records) for s in _split(ClassGroupsSequencer(group_sizes=[4, 8]).build(items, np.random.default_rng(3)))[0]]
    b = [(s.provenance["group_size"], s.records) for s in _split(ClassGroupsSequencer(group_sizes=[4, 8]).build(items, np.random.default_rng(3)))[0]]
    assert a == b and {g for g, _ in a} <= {4, 8}
    only16, _ = _split(ClassGroupsSequencer(group_sizes=[16]).build(items, np.random.default_rng(0)))
    assert len(only16) == 8 and all(len({r.split("/")[0] for r in s.records}) == 1 for s in only16)


def test_leftovers_and_unlabelled_items_are_rejected_with_reasons():
    items = _items({"a": 5, "b": 3})
    items.append(Item("nolabel", Image("x", IMG)))
    seqs, rejects = _split(ClassGroupsSequencer(group_sizes=[8]).build(items, np.random.default_rng(0)))
    assert not seqs
    reasons = collections.Counter(r.reason for r in rejects)
    assert reasons == {"incomplete_group": 8, "missing_label": 1}
    assert "class 'a'" in next(r.detail for r in rejects if r.record.startswith("a/"))


def test_a_drawn_size_that_cannot_be_filled_falls_back_to_another():
    # Two classes only: g = 2 or 4 would need 8 or 4 classes; only g = 8 or 16 can be used.
    seqs, rejects = _split(ClassGroupsSequencer().build(_items({"a": 16, "b": 16}), np.random.default_rng(1)))
    assert sum(len(s.images) for s in seqs) == 32 and not rejects
    assert {s.provenance["group_size"] for s in seqs} <= {8, 16}


def test_params_are_checked():
    with pytest.raises(ValidationError):
        ClassGroupsSequencer(group_sizes=[3])
    with pytest.raises(ValidationError):
        ClassGroupsSequencer(group_sizes=[2, 2])
