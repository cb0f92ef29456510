"""A real two-node Ray cluster on this machine (bench/ray_multinode.py's nodes and scenario): the
second node, holding a tokenizer actor, loses its raylet mid-run. Head 1 CPU, second node 2 CPUs:
the plan made for 3 CPUs cannot run on the head alone, so the driver must re-plan for it (the run
used to hang). The run must finish on the head without a rerun, with the single-node digest.

Skipped unless asked (two raylets and a driver take minutes on a small machine):
  UVD_TEST_MULTINODE=1 python -m pytest -m multinode tests/engines/test_ray_multinode.py
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

pytestmark = [
    pytest.mark.multinode,
    pytest.mark.skipif(os.environ.get("UVD_TEST_MULTINODE") != "1", reason="a real two-node Ray cluster: set UVD_TEST_MULTINODE=1"),
]

pytest.importorskip("ray")
_spec = importlib.util.spec_from_file_location("uvd_bench_ray_multinode", Path(__file__).parents[2] / "bench" / "ray_multinode.py")
multinode = sys.modules.setdefault("uvd_bench_ray_multinode", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(multinode)


@pytest.fixture
def short_tmp():
    """A short folder: Ray's socket paths under a node's --temp-dir must stay within 107 bytes,
    which pytest's tmp_path names exceed."""
    with tempfile.TemporaryDirectory(prefix="uvdmn-") as tmp:
        yield Path(tmp)


def test_losing_the_node_of_a_tokenizer_actor_finishes_on_the_head(short_tmp, monkeypatch):
    from uvd_pipeline.samples import make_samples

    tmp_path = short_tmp

    make_samples(tmp_path / "samples", seed=0, parts=["images"])
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(multinode.recipe(tmp_path / "samples")))
    local = multinode.uvd("run", str(recipe_path), "--out", str(tmp_path / "local"), "-q", "--engine", "local")
    assert local.returncode == 0, local.stderr
    n_units, reference = len(multinode.committed(tmp_path / "local")), multinode.digest(tmp_path / "local")
    monkeypatch.setitem(multinode.CPUS, "head", 1)
    monkeypatch.setitem(multinode.CPUS, "second", 2)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    result = multinode.scenario("actor", tmp_path, recipe_path, n_units, reference, env)
    assert result.get("killed_node") == "second", result
    assert result["run_exit_status"] == 0 and "rerun_exit_status" not in result, result
    assert result["digest_equals_single_node"] and result["verify"], result
    assert result["left_running"] == [], result
