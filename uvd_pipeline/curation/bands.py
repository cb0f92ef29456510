"""Candidate pairs with complete recall for Hamming distance <= t on 64-bit hashes, and their
confirmation inside one bucket, all vectorized with numpy.

Pigeonhole: cut the 64 bits into B = t + m blocks. Two hashes at distance <= t differ in at most
t blocks, so at least m blocks agree; the m-subset of blocks they agree on is one of the C(B, m)
tables, and in that table both hashes have the same key (the bits of its m blocks). Every pair
within the threshold therefore meets in at least one bucket: recall is complete, whatever m is.
m only trades work: more tables (rows emitted) against longer keys (fewer pairs per bucket).

A table's key is kept as the top bits of a bit-permuted hash (`BandLayout.permuted`): sorting the
permuted hashes sorts by key and groups identical hashes, and the Hamming distance between two
permuted hashes equals the distance between the originals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import numpy as np

from .views import tints_close

U64 = np.uint64
MAX_THRESHOLD = 16
# Cost of comparing one candidate pair relative to emitting, exchanging and sorting one band row.
PAIR_COST = 0.05


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


@dataclass(frozen=True)
class BandLayout:
    threshold: int
    m: int

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= MAX_THRESHOLD:
            raise ValueError(f"threshold {self.threshold}: must be within 0..{MAX_THRESHOLD}")
        if self.m < 1 or self.threshold + self.m > 64:
            raise ValueError(f"m {self.m}: must be >= 1 with threshold + m <= 64")

    @cached_property
    def blocks(self) -> list[tuple[int, int]]:
        """(first bit, width) of each of the t + m blocks; widths differ by at most one bit."""
        n = self.threshold + self.m
        widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
        starts = [sum(widths[:i]) for i in range(n)]
        return list(zip(starts, widths))

    @cached_property
    def tables(self) -> list[tuple[int, ...]]:
        return list(combinations(range(len(self.blocks)), self.m))

    def key_bits(self, table: int) -> int:
        return sum(self.blocks[b][1] for b in self.tables[table])

    @cached_property
    def _moves(self) -> list[list[tuple[int, int, int]]]:
        """Per table: (source shift, mask, destination shift) of each block, its key blocks first."""
        moves = []
        for chosen in self.tables:
            order = list(chosen) + [b for b in range(len(self.blocks)) if b not in chosen]
            top, plan = 64, []
            for b in order:
                start, width = self.blocks[b]
                top -= width
                plan.append((start, (1 << width) - 1, top))
            moves.append(plan)
        return moves

    def permuted(self, hashes: np.ndarray, table: int) -> np.ndarray:
        """The hashes with the table's key blocks moved to the top bits (a bijection)."""
        out = np.zeros(len(hashes), dtype=U64)
        for src, mask, dst in self._moves[table]:
            out |= ((hashes >> U64(src)) & U64(mask)) << U64(dst)
        return out

    def keys(self, permuted: np.ndarray, table: int) -> np.ndarray:
        bits = self.key_bits(table)
        return permuted if bits >= 64 else permuted >> U64(64 - bits)


def choose_m(rows: int, threshold: int, pair_cost: float = PAIR_COST) -> int:
    """The m that minimises the expected work of the pass for uniformly random hashes: per row,
    one band row per table plus `pair_cost` per candidate pair, where a table whose key has b bits
    puts rows / 2**(b+1) pairs on each row. Blocks are w or w+1 bits wide, so a table with j of
    its m blocks wide has m*w + j bits. Longer keys (larger m) cost more tables; this keeps keys
    near log2(rows) bits. (bench/cluster_scale.py measured pair_cost ~ 0.05 on this project's VM:
    ~410 ns per band row, ~21 ns per pair.)"""
    best, best_cost = 1, math.inf
    n = max(rows, 1)
    for m in range(1, 64 - threshold + 1):
        blocks = threshold + m
        w, wide = 64 // blocks, 64 % blocks
        cost = 0.0
        for j in range(max(0, m - (blocks - wide)), min(m, wide) + 1):
            tables = math.comb(wide, j) * math.comb(blocks - wide, m - j)
            cost += tables * (1 + pair_cost * n / 2 ** (m * w + j + 1))
        if cost < best_cost:
            best, best_cost = m, cost
        elif m * w > math.log2(max(n, 2)) + 8:  # longer keys only add tables from here on
            break
    return best


@dataclass
class BucketStats:
    pairs_compared: int = 0
    identical_edges: int = 0  # rows joined to an identical hash without a comparison
    largest_bucket: int = 0  # rows sharing one key (before identical hashes are merged)
    capped_buckets: int = 0  # buckets over the cap, compared block by block
    capped_pairs: int = 0

    def add(self, other: BucketStats) -> None:
        self.pairs_compared += other.pairs_compared
        self.identical_edges += other.identical_edges
        self.largest_bucket = max(self.largest_bucket, other.largest_bucket)
        self.capped_buckets += other.capped_buckets
        self.capped_pairs += other.capped_pairs

    def as_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


@dataclass
class Edges:
    u: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)

    def add(self, u: np.ndarray, v: np.ndarray) -> None:
        if len(u):
            self.u.append(np.asarray(u, dtype=U64))
            self.v.append(np.asarray(v, dtype=U64))

    def unique(self) -> tuple[np.ndarray, np.ndarray]:
        """Undirected edges without self loops, each once as (smaller, larger), sorted."""
        if not self.u:
            return np.zeros(0, U64), np.zeros(0, U64)
        u, v = np.concatenate(self.u), np.concatenate(self.v)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        keep = lo != hi
        return unique_pairs(lo[keep], hi[keep])


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first]


def _sort_order(sort_cols: list[np.ndarray]) -> np.ndarray:
    """Row order by the columns, the first column primary. The order of equal rows is fixed by
    the input (a deterministic sort), and no result depends on it beyond which star edges join
    identical rows, which never changes the components."""
    if len(sort_cols) == 1:
        return np.argsort(sort_cols[0])
    return np.lexsort(sort_cols[::-1])


def _group_starts(cols: list[np.ndarray]) -> np.ndarray:
    """For rows sorted by cols: a boolean array, True where a row differs from the one before."""
    n = len(cols[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for c in cols:
            new[1:] |= c[1:] != c[:-1]
    return new


def identical_edges(cols: list[np.ndarray], nodes: np.ndarray, edges: Edges) -> np.ndarray:
    """Rows equal in every column form a clique; a star to the group's first row keeps its
    connectivity. Returns the indices (into the sorted order) of each group's first row, and adds
    the star edges. `cols` and `nodes` must already be sorted by cols."""
    new = _group_starts(cols)
    first = np.flatnonzero(new)
    owner = np.repeat(first, np.diff(np.r_[first, len(new)]))
    dup = ~new
    edges.add(nodes[owner[dup]], nodes[dup])
    return first


def exact_edges(cols: list[np.ndarray], nodes: np.ndarray, edges: Edges) -> None:
    """Rows whose columns (position mask and image ids) are all equal are exact duplicates."""
    order = _sort_order(cols)
    identical_edges([c[order] for c in cols], nodes[order], edges)


def bucket_edges(
    group: np.ndarray, permuted: np.ndarray, extra: list[np.ndarray], nodes: np.ndarray,
    key_bits: int, threshold: int, cap: int, edges: Edges, tint: np.ndarray | None = None,
) -> BucketStats:
    """Edges between rows of one table whose (group, key) agree and whose hashes are all within
    the threshold (the distance of a row pair is the largest over `permuted` and `extra`), and,
    when `tint` is given, whose tints are close (curation/views.py).

    Identical rows are merged first (star edges, no comparison), so degenerate hashes (many blank
    images) cost a sort, not a square. Buckets of up to `cap` distinct rows compare pairs by
    offset (row i with row i + d, for d = 1, 2, ...); larger buckets block by block."""
    stats = BucketStats()
    if len(nodes) < 2:
        return stats
    mixed = bool((group != group[0]).any())
    tinted = tint is not None and bool((tint != tint[0]).any())
    cols = ([group] if mixed else []) + [permuted, *extra] + ([tint] if tinted else [])
    order = _sort_order(cols)
    cols = [c[order] for c in cols]
    nodes = nodes[order]
    grp = group[order]
    keys = permuted[order] if key_bits >= 64 else permuted[order] >> U64(64 - key_bits)
    key_new = _group_starts([grp, keys])
    starts = np.flatnonzero(key_new)
    stats.largest_bucket = int(np.diff(np.r_[starts, len(keys)]).max())
    first = identical_edges(cols, nodes, edges)
    stats.identical_edges = len(nodes) - len(first)
    hashes = [c[first] for c in ([permuted[order]] + [e[order] for e in extra])]
    run_keys = [grp[first], keys[first]]
    i, j = _run_pairs(run_keys, hashes, threshold, cap, stats)
    if tinted:  # identical rows share a tint (it is one of the columns); pairs must have close ones
        rep_tint = cols[-1][first]
        close = tints_close(rep_tint[i], rep_tint[j])
        i, j = i[close], j[close]
    rep_nodes = nodes[first]
    edges.add(rep_nodes[i], rep_nodes[j])
    return stats


def _distance(hashes: list[np.ndarray], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    d = popcount(hashes[0][i] ^ hashes[0][j])
    for h in hashes[1:]:
        d = np.maximum(d, popcount(h[i] ^ h[j]))
    return d


def _shifted_distance(hashes: list[np.ndarray], d: int) -> np.ndarray:
    """Distance of every row i to row i + d."""
    out = popcount(hashes[0][:-d] ^ hashes[0][d:])
    for h in hashes[1:]:
        out = np.maximum(out, popcount(h[:-d] ^ h[d:]))
    return out


def _run_pairs(
    run_keys: list[np.ndarray], hashes: list[np.ndarray], threshold: int, cap: int, stats: BucketStats
) -> tuple[np.ndarray, np.ndarray]:
    n = len(hashes[0])
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty
    starts = np.flatnonzero(_group_starts(run_keys))
    lens = np.diff(np.r_[starts, n])
    ends = np.repeat(starts + lens, lens)
    remaining = ends - np.arange(n) - 1  # rows after this one in its run
    big = lens > cap
    in_big = np.repeat(big, lens)
    out_i, out_j = [empty], [empty]
    active = np.flatnonzero((remaining > 0) & ~in_big)
    d = 1
    while active.size:
        stats.pairs_compared += active.size
        if active.size * 4 > n:  # most rows still compare: whole shifted arrays beat gathers
            hit = (remaining[: n - d] >= d) & ~in_big[: n - d] & (_shifted_distance(hashes, d) <= threshold)
            i = np.flatnonzero(hit)
            out_i.append(i)
            out_j.append(i + d)
        else:
            j = active + d
            ok = _distance(hashes, active, j) <= threshold
            out_i.append(active[ok])
            out_j.append(j[ok])
        d += 1
        active = active[remaining[active] >= d]
    for s, length in zip(starts[big], lens[big]):
        stats.capped_buckets += 1
        bi, bj = _all_pairs(hashes, int(s), int(s + length), threshold, stats)
        out_i.append(bi)
        out_j.append(bj)
    return np.concatenate(out_i), np.concatenate(out_j)


def _all_pairs(
    hashes: list[np.ndarray], start: int, end: int, threshold: int, stats: BucketStats, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows start..end-1, in square blocks so memory stays block**2."""
    out_i, out_j = [], []
    for a in range(start, end, block):
        a_end = min(a + block, end)
        for b in range(a, end, block):
            b_end = min(b + block, end)
            dist = np.zeros((a_end - a, b_end - b), dtype=np.uint8)
            for h in hashes:
                dist = np.maximum(dist, popcount(h[a:a_end, None] ^ h[None, b:b_end]))
            ok = dist <= threshold
            if a == b:
                ok = np.triu(ok, k=1)
                compared = (a_end - a) * (a_end - a - 1) // 2
            else:
                compared = (a_end - a) * (b_end - b)
            stats.pairs_compared += compared
            stats.capped_pairs += compared
            ii, jj = np.nonzero(ok)
            out_i.append(ii + a)
            out_j.append(jj + b)
    return np.concatenate(out_i), np.concatenate(out_j)
