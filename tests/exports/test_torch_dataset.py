"""PackedSequences: BOS + sequence + EOS packed into fixed windows, seeded shuffle, split by rank
and worker; over an epoch no sequence is lost or repeated."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tests.audit.worlds import build_once, make_images, recipe_dict, small_dataset, source
from uvd_pipeline.exports.torch_dataset import PackedSequences
from uvd_pipeline.manifests import Dataset

BOS, EOS = 8192, 8193


def unpack(windows: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[int, ...]]:
    """Split one shard's stream of windows back into sequences at BOS ... EOS."""
    stream = np.concatenate([t[m] for t, m in windows]) if windows else np.zeros(0, np.int64)
    seqs, current = [], None
    for tok in stream.tolist():
        if tok == BOS:
            assert current is None
            current = []
        elif tok == EOS:
            seqs.append(tuple(current))
            current = None
        else:
            current.append(tok)
    assert current is None, "a shard ended inside a sequence"
    return seqs


def want(out, split="train") -> Counter:
    ds = Dataset(str(out))
    rows = [r for r in ds.manifest.to_pylist() if split == "all" or r["split"] == split]
    return Counter(tuple(ds.tokens(r["sequence_id"]).tolist()) for r in rows)


@pytest.mark.parametrize("world_size", [1, 3])
def test_every_sequence_once_per_epoch_across_ranks_and_workers(tmp_path_factory, world_size):
    out = small_dataset(tmp_path_factory)
    seen: Counter = Counter()
    for rank in range(world_size):
        ds = PackedSequences(str(out), window=1000, seed=3, rank=rank, world_size=world_size, split="all")
        batches = list(DataLoader(ds, batch_size=None, num_workers=2))
        for b in batches:
            assert b["input_ids"].shape == (1000,) and b["input_ids"].dtype == torch.int64
        for worker in range(2):
            windows = list(ds.windows(ds.shard_of(rank, world_size, worker, 2)))
            seen.update(unpack(windows))
        # what the DataLoader's workers yielded is exactly those windows, nothing more
        assert sum(int(b["loss_mask"].sum()) for b in batches) == sum(
            int(m.sum()) for w in range(2) for _, m in ds.windows(ds.shard_of(rank, world_size, w, 2)))
    assert seen == want(out, "all")


def test_windows_are_full_except_a_padded_last_one_and_shuffle_is_seeded(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    ds = PackedSequences(str(out), window=4096, seed=0)
    windows = list(ds.windows(ds.shard_of(0, 1, 0, 1)))
    assert all(m.all() for _, m in windows[:-1]) and not windows[-1][1].all()
    assert (windows[-1][0][~windows[-1][1]] == EOS).all()  # padding uses EOS by default, masked out
    assert Counter(unpack(windows)) == want(out, "train")
    a = ds.order().tolist()
    assert a == PackedSequences(str(out), seed=0).order().tolist()
    ds.set_epoch(1)
    assert ds.order().tolist() != a and sorted(ds.order().tolist()) == sorted(a)
    assert PackedSequences(str(out), seed=0, shuffle=False).order().tolist() == list(range(len(a)))


def test_special_ids_are_configurable_and_checked(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    ds = PackedSequences(str(out), window=300, bos=None, eos=9000, vocab_size=9001, pad=0, split="test")
    tokens, mask = next(iter(ds)).values()
    assert tokens[256].item() == 9000 and mask.all()
    with pytest.raises(ValueError, match="special ids lie in"):
        PackedSequences(str(out), bos=100)


def test_repeat_shows_a_sequence_repeat_times(tmp_path_factory):
    root = tmp_path_factory.mktemp("torch_repeat")
    data = recipe_dict([source("a", make_images(root / "a", 3, seed=21)),
                        source("b", make_images(root / "b", 2, seed=22), repeat=3)])
    out = build_once(tmp_path_factory, "torch_repeat", data)
    ds = PackedSequences(str(out), window=512, seed=1)
    counts = Counter(unpack(list(ds.windows(ds.shard_of(0, 1, 0, 1)))))
    base = want(out)
    assert sorted(counts.values()) == [1, 1, 1, 3, 3] and set(counts) == set(base)
    assert len(PackedSequences(str(out), repeat=False)) == 5
