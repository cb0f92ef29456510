"""The cluster pass end to end against the brute-force rule: decisions, keep-rule ties, video
records, partition independence, errors, and a kill -9 between stages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from uvd_pipeline.curation import SignatureRef, cluster_pass
from uvd_pipeline.errors import UvdError
from uvd_pipeline.manifests.store import OutputStore

from .synthetic import Rec, image_id, random_world, reference, write_signatures

UNITS = {f"u{i}": (f"src{i % 3}", 1 + i % 3, i == 5) for i in range(6)}  # u5 is an eval set
SMALL = {"nodes_per_partition": 300, "band_rows_per_partition": 4000}


def world(store: OutputStore, recs: list[Rec], units=UNITS) -> list[SignatureRef]:
    refs = []
    for u, (src, rank, ev) in units.items():
        refs.append(SignatureRef(u, src, 0 if ev else rank, ev, write_signatures(store, u, [r for r in recs if r.unit == u])))
    return refs


def decisions(store: OutputStore, paths: dict[str, str]) -> dict[str, list[dict]]:
    out = {}
    for unit, path in paths.items():
        with pa.ipc.open_file(pa.BufferReader(store.read_bytes(path))) as r:
            out[unit] = r.read_all().to_pylist()
    return out


def rule(units=UNITS) -> dict[str, tuple[str, int, bool]]:
    return {u: (s, 0 if e else r, e) for u, (s, r, e) in units.items()}


@pytest.mark.parametrize("threshold", [0, 3, 8])
def test_decisions_equal_the_brute_force_rule(tmp_path: Path, threshold: int) -> None:
    recs = random_world(threshold, 800, threshold)
    store = OutputStore(str(tmp_path))
    result = cluster_pass(store, world(store, recs), threshold, **SMALL)
    assert decisions(store, result.paths) == reference(recs, rule(), threshold)
    s = result.stats
    assert s["records"] == len(recs) and s["partitions"]["node"] > 1 and (s["partitions"]["band"] > 1 or threshold == 0)
    assert s["edges"] > 0 and s["clusters"] == sum(s["cluster_sizes"].values())
    assert sum(s["dropped"].values()) == sum(len(v) for v in reference(recs, rule(), threshold).values())
    assert "u5" not in result.paths  # eval units are never decided


def test_partitions_and_band_layout_do_not_change_the_bytes(tmp_path: Path) -> None:
    recs = random_world(7, 500, 5)
    outs = []
    for i, kw in enumerate([{}, SMALL, {"m": 3, "nodes_per_partition": 200, "band_rows_per_partition": 3000, "cap": 3}]):
        store = OutputStore(str(tmp_path / str(i)))
        result = cluster_pass(store, world(store, recs), 5, **kw)
        outs.append({u: store.read_bytes(p) for u, p in result.paths.items()})
    assert outs[0] == outs[1] == outs[2] and outs[0]


def test_keep_rule_ties(tmp_path: Path) -> None:
    h = 0x0123456789ABCDEF
    same_id = image_id("photo")
    units = {"a": ("web", 2, False), "b": ("coco", 1, False), "c": ("web", 2, False), "ev": ("val", 0, True)}
    recs = [
        # 1) the same photo in a low-priority and a high-priority source: the priority source keeps it
        Rec("a", "x1", {0: same_id}, {0: h}),
        Rec("b", "y1", {0: same_id}, {0: h}),
        # 2) equal rank and equal image id: the smaller unit name keeps
        Rec("a", "x2", {0: image_id("dup")}, {0: h ^ 0xF0F0F0F0F0}),
        Rec("c", "z2", {0: image_id("dup")}, {0: h ^ 0xF0F0F0F0F0}),
        # 3) near copies, equal rank: the smaller image id keeps; the other is near_duplicate
        Rec("c", "z3", {0: "f" * 32}, {0: 0x1111}),
        Rec("c", "z4", {0: "0" * 32}, {0: 0x1113}),
        # 4) an eval record near a training record: eval keeps, even over a high priority source
        Rec("b", "y5", {0: image_id("leak")}, {0: 0xFFFF00000000}),
        Rec("ev", "e5", {0: "f" * 31 + "e"}, {0: 0xFFFF00000001}),
        # 5) video records: near only when every aligned position is within the threshold
        Rec("a", "v1", {0: image_id("v1a"), 1: image_id("v1b")}, {0: 0xAAAA << 20, 1: 0xBBBB << 20}),
        Rec("c", "v2", {0: image_id("v2a"), 1: image_id("v2b")}, {0: (0xAAAA << 20) ^ 1, 1: (0xBBBB << 20) ^ 2}),
        Rec("c", "v3", {0: image_id("v3a"), 1: image_id("v3b")}, {0: 0xAAAA << 20, 1: (0xBBBB << 20) ^ 0xFF00FF}),
        # an image with the first frame's hash but one position only: another position set
        Rec("b", "i6", {0: image_id("i6")}, {0: 0xAAAA << 20}),
    ]
    store = OutputStore(str(tmp_path))
    result = cluster_pass(store, world(store, recs, units), 2)
    got = decisions(store, result.paths)
    assert got == reference(recs, {u: (s, r, e) for u, (s, r, e) in units.items()}, 2)
    flat = {(u, d["record"]): d for u, rows in got.items() for d in rows}
    assert flat[("a", "x1")]["reason"] == "duplicate" and flat[("a", "x1")]["twin_unit"] == "b"
    assert ("a", "x2") not in flat and flat[("c", "z2")]["twin_record"] == "x2"
    assert flat[("c", "z3")]["reason"] == "near_duplicate" and flat[("c", "z3")]["distance"] == 1
    assert flat[("b", "y5")]["reason"] == "eval_contamination" and flat[("b", "y5")]["twin_source"] == "val"
    assert flat[("c", "v2")]["reason"] == "near_duplicate" and flat[("c", "v2")]["twin_record"] == "v1"
    assert ("c", "v3") not in flat and ("b", "i6") not in flat


KILLER = """
import os, signal, sys
from uvd_pipeline.curation import cluster_pass
from uvd_pipeline.manifests.store import OutputStore
from tests.curation.test_cluster import SMALL, world
from tests.curation.synthetic import random_world

class KillAt:
    def __init__(self, stage): self.stage, self.n = stage, 0
    def map(self, fn, args):
        out = []
        for a in args:
            if fn.__name__ == self.stage and self.n == min(1, len(args) - 1):  # mid-stage when it can
                os.kill(os.getpid(), signal.SIGKILL)
            out.append(fn(*a))
            self.n += fn.__name__ == self.stage
        return out

store = OutputStore(sys.argv[1])
cluster_pass(store, world(store, random_world(11, 400, 4)), 4, KillAt(sys.argv[2]), **SMALL)
"""


@pytest.mark.parametrize("stage", ["edges_task", "round_task", "keepers_task"])
def test_kill_9_inside_a_stage_then_rerun_gives_the_same_decisions(tmp_path: Path, stage: str) -> None:
    recs = random_world(11, 400, 4)
    clean = OutputStore(str(tmp_path / "clean"))
    expected = cluster_pass(clean, world(clean, recs), 4, **SMALL)
    killed = tmp_path / "killed"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", KILLER, str(killed), stage], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    store = OutputStore(str(killed))
    assert not store.list(f"{expected.scratch}/by_unit", ".arrow") or stage != "edges_task"
    again = cluster_pass(store, world(store, recs), 4, **SMALL)
    assert again.paths == expected.paths
    assert decisions(store, again.paths) == decisions(clean, expected.paths)
    assert again.stats == expected.stats


def test_a_finished_pass_is_not_redone(tmp_path: Path) -> None:
    store = OutputStore(str(tmp_path))
    recs = random_world(2, 300, 3)
    first = cluster_pass(store, world(store, recs), 3)

    class Refuses:
        def map(self, fn, args):
            raise AssertionError("nothing should run")

    assert cluster_pass(store, world(store, recs), 3, Refuses()).paths == first.paths


def test_bad_inputs_name_the_file_and_the_field(tmp_path: Path) -> None:
    store = OutputStore(str(tmp_path))
    path = write_signatures(store, "bad", [Rec("bad", "r1", {0: "NOT-HEX" + "0" * 25}, {0: 1})])
    with pytest.raises(UvdError, match=r"bad\.arrow.*image_id"):
        cluster_pass(store, [SignatureRef("bad", "s", 1, False, path)], 4)
    path = write_signatures(store, "pos", [Rec("pos", "r1", {5: image_id(1)}, {5: 1})])
    with pytest.raises(UvdError, match=r"pos\.arrow.*position"):
        cluster_pass(store, [SignatureRef("pos", "s", 1, False, path)], 4)
    with pytest.raises(UvdError, match="threshold"):
        cluster_pass(store, [SignatureRef("pos", "s", 1, False, path)], 17)
    with pytest.raises(UvdError, match="twice"):
        cluster_pass(store, [SignatureRef("pos", "s", 1, False, path)] * 2, 4)


def test_no_duplicates_no_decisions(tmp_path: Path) -> None:
    store = OutputStore(str(tmp_path))
    rng = np.random.default_rng(0)
    recs = [Rec("u0", f"r{i}", {0: image_id(i)}, {0: int(rng.integers(0, 2**62))}) for i in range(200)]
    result = cluster_pass(store, world(store, recs, {"u0": ("s", 1, False)}), 4)
    assert result.paths == {} and result.stats["edges"] == 0 and result.stats["rounds"] == 1
