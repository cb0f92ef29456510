"""Min-label propagation over hash partitions against a brute-force union-find: every node ends
labelled with the smallest keep key of its component, whatever the partition count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uvd_pipeline.curation.components import key_less, min_by, read_labels, round_task
from uvd_pipeline.curation.exchange import Scratch, partition_of
from uvd_pipeline.manifests.store import OutputStore

U64 = np.uint64


def build(tmp: Path, keys: list[tuple[int, int, int]], edges: list[tuple[int, int]], parts: int) -> Scratch:
    """A scratch folder with node partitions (node i has keep key keys[i] + (i,)) and edges."""
    scratch = Scratch(OutputStore(str(tmp)), "x")
    scratch.write_bytes(scratch.rel("plan.json"), json.dumps({"node_parts": parts}).encode())
    node = np.arange(len(keys), dtype=U64) + U64(1 << 32)  # unit 1, record i
    cols = {"node": node, "rank": np.array([k[0] for k in keys], np.uint16),
            "kh": np.array([k[1] for k in keys], U64), "kl": np.array([k[2] for k in keys], U64)}
    scratch.write_partitioned(scratch.rel("nodes"), "from-00000", partition_of(node, parts), parts, cols)
    u = np.array([a for a, b in edges] + [b for a, b in edges], dtype=U64) + U64(1 << 32)
    v = np.array([b for a, b in edges] + [a for a, b in edges], dtype=U64) + U64(1 << 32)
    scratch.write_partitioned(scratch.rel("edges"), "from-00000", partition_of(u, parts), parts, {"u": u, "v": v})
    return scratch


def propagate(scratch: Scratch, parts: int) -> tuple[dict[int, int], int]:
    url, root = scratch.store.url, scratch.root
    r = 0
    while sum(round_task(url, root, q, r)["messages"] for q in range(parts)):
        r += 1
    labels = {}
    for q in range(parts):
        nodes, label = read_labels(scratch, r, q)
        labels.update(zip((nodes - U64(1 << 32)).tolist(), (label[3] - U64(1 << 32)).tolist()))
    return labels, r + 1


def brute(keys: list[tuple[int, int, int]], edges: list[tuple[int, int]]) -> dict[int, int]:
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    comps: dict[int, list[int]] = {}
    for a, b in edges:
        comps.setdefault(find(a), [])
    for i in range(len(keys)):
        if find(i) in comps:
            comps[find(i)].append(i)
    out = {}
    for members in comps.values():
        keeper = min(members, key=lambda i: (*keys[i], i))
        out.update({i: keeper for i in members})
    return out


@pytest.mark.parametrize("parts", [1, 3])
def test_random_graph_with_tied_keys(tmp_path: Path, parts: int) -> None:
    rng = np.random.default_rng(parts)
    n = 400
    # few distinct ranks and image ids: many ties, broken by the node id
    keys = [(int(rng.integers(0, 3)), int(rng.integers(0, 4)), int(rng.integers(0, 2))) for _ in range(n)]
    edges = [(int(a), int(b)) for a, b in rng.integers(0, n, size=(300, 2)) if a != b]
    labels, rounds = propagate(build(tmp_path, keys, edges, parts), parts)
    assert labels == brute(keys, edges)
    assert rounds >= 2


def test_a_chain_takes_its_length_in_rounds(tmp_path: Path) -> None:
    n = 30
    keys = [(1, n - i, 0) for i in range(n)]  # the smallest key at the far end of the chain
    edges = [(i, i + 1) for i in range(n - 1)]
    labels, rounds = propagate(build(tmp_path, keys, edges, 2), 2)
    assert set(labels.values()) == {n - 1} and len(labels) == n
    assert rounds == n + 1  # round 0, n - 1 hops, and the round whose messages change nothing


def test_no_edges_one_round(tmp_path: Path) -> None:
    labels, rounds = propagate(build(tmp_path, [(1, 1, 1)] * 5, [], 2), 2)
    assert labels == {} and rounds == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_min_by_and_key_less_match_tuple_order(rows: list[tuple[int, int, int, int]]) -> None:
    target = np.array([r[0] for r in rows], U64)
    keys = [np.array([r[i] for r in rows], U64) for i in (1, 2, 3)]
    got_t, got_k = min_by(target, keys)
    expected: dict[int, tuple[int, int, int]] = {}
    for r in rows:
        expected[r[0]] = min(expected.get(r[0], r[1:]), r[1:])
    assert dict(zip(got_t.tolist(), zip(*(k.tolist() for k in got_k)))) == expected
    a = [k for k in keys]
    b = [k[::-1] for k in keys]
    assert key_less(a, b).tolist() == [tuple(x) < tuple(y) for x, y in zip(zip(*a), zip(*b))]


def test_labels_live_in_pyarrow_files(tmp_path: Path) -> None:
    scratch = build(tmp_path, [(1, 5, 0), (1, 3, 0), (2, 0, 0)], [(0, 1), (1, 2)], 1)
    labels, _ = propagate(scratch, 1)
    assert labels == {0: 1, 1: 1, 2: 1}  # rank 1 beats rank 2; then the smaller image id
    files = [p for p in (tmp_path / "x" / "labels").rglob("*.arrow")]
    assert files and all(pa.ipc.open_file(pa.memory_map(str(f))).schema.names[0] == "node" for f in files)
