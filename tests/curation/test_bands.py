"""Candidate generation against brute force: every pair within the threshold is found, for every
distance 0..threshold, including degenerate buckets and buckets over the cap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uvd_pipeline.curation.bands import (
    BandLayout,
    Edges,
    bucket_edges,
    choose_m,
    exact_edges,
    popcount,
)

U64 = np.uint64


def planted(seed: int, n: int, threshold: int) -> np.ndarray:
    """n distinct hashes: random ones plus, for each distance 0..threshold+1, copies of random
    originals with exactly that many bits flipped (distance 0 copies are left out: distinct)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64, size=n, dtype=U64)
    out = [base]
    for d in range(1, threshold + 2):
        src = base[rng.integers(0, n, size=max(20, n // 20))]
        flips = np.zeros(len(src), dtype=U64)
        for row in range(len(src)):
            for b in rng.choice(64, size=d, replace=False):
                flips[row] |= U64(1) << U64(int(b))
        out.append(src ^ flips)
    return np.unique(np.concatenate(out))


def brute_pairs(h: np.ndarray, threshold: int) -> set[tuple[int, int]]:
    d = popcount(h[:, None] ^ h[None, :])
    i, j = np.nonzero(np.triu(d <= threshold, k=1))
    return set(zip(i.tolist(), j.tolist()))


def found_pairs(h: np.ndarray, threshold: int, m: int, cap: int = 2048, mask: np.ndarray | None = None):
    layout = BandLayout(threshold, m)
    edges = Edges()
    nodes = np.arange(len(h), dtype=U64)
    mask = np.ones(len(h), np.uint8) if mask is None else mask
    stats = []
    for t in range(len(layout.tables)):
        stats.append(bucket_edges(mask, layout.permuted(h, t), [], nodes, layout.key_bits(t), threshold, cap, edges))
    u, v = edges.unique()
    return set(zip(u.tolist(), v.tolist())), stats


@pytest.mark.parametrize("threshold", [0, 1, 4, 6, 10])
def test_recall_is_exactly_brute_force_at_every_distance(threshold: int) -> None:
    h = planted(threshold, 2000, threshold)
    expected = brute_pairs(h, threshold)
    dist = {int(popcount(h[i] ^ h[j])) for i, j in expected}
    assert dist == set(range(1 if threshold else 0, threshold + 1)) or threshold == 0
    for m in sorted({1, 2, choose_m(len(h), threshold)}):
        got, _ = found_pairs(h, threshold, m)
        assert got == expected, (threshold, m)


def test_buckets_over_the_cap_are_compared_block_by_block() -> None:
    rng = np.random.default_rng(3)
    # 600 hashes sharing their top 40 bits: with m=1 and threshold 4, every table's bucket is big
    h = np.unique((U64(0xABCDEF1234) << U64(24)) | rng.integers(0, 2**24, size=600, dtype=U64))
    expected = brute_pairs(h, 4)
    got, stats = found_pairs(h, 4, 1, cap=16)
    assert got == expected and len(expected) > 100
    assert sum(s.capped_buckets for s in stats) > 0
    assert sum(s.capped_pairs for s in stats) > 0
    assert max(s.largest_bucket for s in stats) > 16


def test_identical_hashes_join_without_a_square_of_comparisons() -> None:
    rng = np.random.default_rng(4)
    blank = np.full(5000, 0x8000000000000000, dtype=U64)  # many blank images hash alike
    other = rng.integers(0, 2**64, size=500, dtype=U64)
    h = np.concatenate([blank, other, blank[:1] ^ U64(0b111)])  # plus one near the blanks
    layout = BandLayout(3, 2)
    edges = Edges()
    nodes = np.arange(len(h), dtype=U64)
    stats = [bucket_edges(np.ones(len(h), np.uint8), layout.permuted(h, t), [], nodes, layout.key_bits(t), 3, 64, edges)
             for t in range(len(layout.tables))]
    u, v = edges.unique()
    # the blanks and the near one form one component
    parent = {int(i): int(i) for i in range(len(h))}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(u.tolist(), v.tolist()):
        parent[find(a)] = find(b)
    comp = {find(i) for i in [*range(5000), len(h) - 1]}
    assert len(comp) == 1
    assert max(s.largest_bucket for s in stats) >= 5001
    assert sum(s.pairs_compared for s in stats) < 100_000  # not 5000**2 / 2 per table
    assert sum(s.identical_edges for s in stats) >= 4999


def test_group_column_keeps_position_sets_apart() -> None:
    h = np.array([5, 5, 7], dtype=U64)
    mask = np.array([1, 2, 1], dtype=np.uint8)
    got, _ = found_pairs(h, 1, 1, mask=mask)
    assert got == {(0, 2)}  # node 1 has another position set


def test_exact_edges_need_every_column_equal() -> None:
    edges = Edges()
    cols = [np.array([1, 1, 1, 2], U64), np.array([9, 9, 8, 9], U64)]
    exact_edges(cols, np.array([10, 11, 12, 13], U64), edges)
    u, v = edges.unique()
    assert list(zip(u.tolist(), v.tolist())) == [(10, 11)]


def test_choose_m_lengthens_keys_with_the_rows() -> None:
    ms = [choose_m(n, 6) for n in (10**3, 10**6, 10**8, 10**10)]
    assert ms == sorted(ms) and ms[0] < ms[-1]
    for n in (10**6, 10**8):
        m = choose_m(n, 6)
        bits = min(BandLayout(6, m).key_bits(t) for t in range(len(BandLayout(6, m).tables)))
        assert abs(bits - np.log2(n)) <= 8


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 16), st.integers(1, 3), st.randoms(use_true_random=False))
def test_close_pairs_share_a_key_in_some_table(h: int, threshold: int, m: int, rnd) -> None:
    layout = BandLayout(threshold, m)
    flips = rnd.sample(range(64), rnd.randint(0, threshold))
    other = h
    for b in flips:
        other ^= 1 << b
    a, b = np.array([h], U64), np.array([other], U64)
    shared = 0
    for t in range(len(layout.tables)):
        pa_, pb = layout.permuted(a, t), layout.permuted(b, t)
        assert popcount(pa_ ^ pb)[0] == len(flips)  # the permutation keeps distances
        shared += int(layout.keys(pa_, t)[0] == layout.keys(pb, t)[0])
    assert shared >= 1


def test_layout_rejects_thresholds_out_of_range() -> None:
    with pytest.raises(ValueError, match="threshold"):
        BandLayout(17, 1)
