"""Task runners: results in order on every runner, errors surface, and the cluster pass gives the
same decision bytes on local, Ray (2 workers) and Beam."""

from __future__ import annotations

from pathlib import Path

import pytest

from uvd_pipeline.curation import cluster_pass
from uvd_pipeline.engines.tasks import BeamTaskRunner, LocalTaskRunner, RayTaskRunner, task_runner
from uvd_pipeline.manifests.store import OutputStore

from ..curation.synthetic import random_world
from ..curation.test_cluster import SMALL, world
from .helpers import ray_cluster  # noqa: F401 (a fixture)


def square_and_pid(x: int, offset: int) -> dict:
    import os

    return {"value": x * x + offset, "pid": os.getpid()}


def fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("task three failed")
    return x


def decision_bytes(tmp: Path, runner) -> dict[str, bytes]:
    store = OutputStore(str(tmp))
    result = cluster_pass(store, world(store, random_world(5, 300, 4)), 4, runner, **SMALL)
    return {u: store.read_bytes(p) for u, p in result.paths.items()}


def test_local_runner_keeps_order_and_raises() -> None:
    runner = task_runner("local")
    assert [r["value"] for r in runner.map(square_and_pid, [(i, 1) for i in range(5)])] == [1, 2, 5, 10, 17]
    with pytest.raises(ValueError, match="three"):
        LocalTaskRunner().map(fails_on_three, [(i,) for i in range(5)])
    with pytest.raises(ValueError, match="engine"):
        task_runner("spark")


def test_ray_runner_two_workers(ray_cluster, tmp_path: Path) -> None:  # noqa: F811
    runner = RayTaskRunner(workers=2)
    out = runner.map(square_and_pid, [(i, 0) for i in range(8)])
    assert [r["value"] for r in out] == [i * i for i in range(8)]
    assert all(r["pid"] != __import__("os").getpid() for r in out)  # ran in Ray workers
    with pytest.raises(Exception, match="three"):
        runner.map(fails_on_three, [(i,) for i in range(5)])
    assert decision_bytes(tmp_path / "ray", runner) == decision_bytes(tmp_path / "local", LocalTaskRunner())


def test_beam_runner(tmp_path: Path) -> None:
    runner = BeamTaskRunner()
    assert [r["value"] for r in runner.map(square_and_pid, [(i, 2) for i in range(6)])] == [i * i + 2 for i in range(6)]
    assert runner.map(square_and_pid, []) == []
    with pytest.raises(Exception, match="three"):
        runner.map(fails_on_three, [(i,) for i in range(5)])
    beam_bytes = decision_bytes(tmp_path / "beam", runner)
    assert beam_bytes and beam_bytes == decision_bytes(tmp_path / "local", LocalTaskRunner())
