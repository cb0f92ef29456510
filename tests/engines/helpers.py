"""Pieces the engine tests share: the local engine's run that every other engine must equal, and
Ray in this process for the tests that run the Ray engine without a cluster of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset
from uvd_pipeline.recipe import parse_recipe


def local_digest_of(recipe: dict, out: Path, units: int) -> str:
    """Run `recipe` (a recipe dict) on the local engine into `out`, check all `units` units
    committed without failures, and return the dataset digest: the reference for other engines."""
    summary = run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True)
    assert summary.failures == [] and summary.committed == summary.planned == units
    return dataset_digest(open_dataset(str(out)))


@pytest.fixture(scope="module")
def ray_cluster():
    """Ray started in this process (2 CPUs) for one test module, and shut down after it. Import it
    into a test module to use it; it skips the module's Ray tests where Ray is not installed."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray
    ray.shutdown()
