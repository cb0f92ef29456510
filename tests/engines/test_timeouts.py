"""Unit deadlines (`--unit-timeout`): a unit whose read never returns is killed at the deadline,
retried once in a fresh process, then failed with an error naming the unit and the timeout, while
the other units commit; a unit that stalls only once succeeds on its retry, with the same bytes."""

from __future__ import annotations

import time

import pytest

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset
from uvd_pipeline.recipe import parse_recipe

from .stall_plugins import install, stall_recipe, write_images

TIMEOUT = 5.0  # seconds: a unit of 2 small PNGs builds in well under one, even on a loaded machine
# A Ray unit also waits on the tokenizer actor and commits; on a 2-core machine shared by a dozen
# jobs that took more than 5 s (clock started after the task's imports), so Ray gets more.
RAY_TIMEOUT = 15.0


@pytest.fixture
def world(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch)
    return write_images(tmp_path / "images", 6)  # 3 units of 2 files: img02.png is in the second


def _committed(out):
    return {e["unit"] for e in open_dataset(str(out)).ledger}


def _check_hung_unit_failed(summary, out, seconds, timeout=TIMEOUT):
    assert summary.planned == 3 and summary.committed == 2 and len(summary.failures) == 1, summary.failures
    unit, error = summary.failures[0]
    assert error.startswith(f"UnitTimeout: unit {unit} gave no result within --unit-timeout {timeout:g} s, 2 tries")
    assert unit == "stalling-000001" and _committed(out) == {"stalling-000000", "stalling-000002"}
    assert seconds >= 2 * timeout  # two tries, each to its deadline
    print(f"run with one hung unit: {seconds:.1f} s")


def test_local_a_hung_unit_is_killed_retried_once_then_failed(world, tmp_path):
    recipe = parse_recipe(stall_recipe(world, stall_on="img02.png"))
    t0 = time.perf_counter()
    summary = run_recipe(recipe, str(tmp_path / "out"), engine="local", quiet=True, unit_timeout=TIMEOUT)
    _check_hung_unit_failed(summary, tmp_path / "out", time.perf_counter() - t0)


def test_local_a_unit_that_stalls_once_succeeds_on_its_retry_with_the_same_bytes(world, tmp_path):
    marker = tmp_path / "stalled-once"
    recipe = parse_recipe(stall_recipe(world, stall_on="img02.png", once_marker=str(marker)))
    summary = run_recipe(recipe, str(tmp_path / "retried"), engine="local", quiet=True, unit_timeout=TIMEOUT)
    assert marker.exists() and summary.failures == [] and summary.committed == 3
    reference = run_recipe(recipe, str(tmp_path / "plain"), engine="local", quiet=True)  # in process, no stall now
    assert reference.committed == 3
    assert dataset_digest(open_dataset(str(tmp_path / "retried"))) == dataset_digest(open_dataset(str(tmp_path / "plain")))


def test_ray_a_hung_unit_task_is_cancelled_retried_once_then_failed(world, tmp_path):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    # started after `world` installed the plugin, so the workers inherit its PYTHONPATH
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        recipe = parse_recipe(stall_recipe(world, stall_on="img02.png"))
        t0 = time.perf_counter()
        summary = run_recipe(recipe, str(tmp_path / "out"), engine="ray", workers=1, quiet=True,
                             unit_timeout=RAY_TIMEOUT)
        _check_hung_unit_failed(summary, tmp_path / "out", time.perf_counter() - t0, RAY_TIMEOUT)
    finally:
        ray.shutdown()


def test_beam_a_hung_unit_build_is_killed_retried_once_then_failed(world, tmp_path, layout="per_unit"):
    """The staged layout builds through the same BuildUnit step (measured too: RELIABILITY.md §6)."""
    pytest.importorskip("apache_beam")
    recipe = parse_recipe(stall_recipe(world, stall_on="img02.png"))
    t0 = time.perf_counter()
    summary = run_recipe(recipe, str(tmp_path / "out"), engine="beam", quiet=True, unit_timeout=TIMEOUT,
                         pipeline_options=[f"layout={layout}"])
    _check_hung_unit_failed(summary, tmp_path / "out", time.perf_counter() - t0)
