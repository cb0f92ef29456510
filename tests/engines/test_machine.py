"""Worker processes within the machine unless asked: `--workers` above the CPUs is capped with a
warning naming both numbers and `--oversubscribe` (Ray: unit tasks and tokenizer actors; Beam:
the local runner's worker processes); the dataset is the same either way."""

from __future__ import annotations

import logging

import pytest

from uvd_pipeline.engines import machine, run_recipe
from uvd_pipeline.engines.machine import fit_workers
from uvd_pipeline.manifests import dataset_digest, open_dataset
from uvd_pipeline.recipe import parse_recipe

from .helpers import local_digest_of


def test_fit_workers_caps_and_says_how_to_override(caplog):
    with caplog.at_level(logging.WARNING, logger="uvd_pipeline.engines"):
        assert fit_workers(16, 2.0, "this machine") == 2
    assert ("--workers 16 is more than the 2 CPUs of this machine: running 2 worker processes (and at most 2 "
            "tokenizer actors) instead; pass --oversubscribe to start 16 anyway") in caplog.text
    caplog.clear()
    assert fit_workers(16, 2.0, "this machine", oversubscribe=True) == 16
    assert fit_workers(2, 4.0, "this machine") == 2 and fit_workers(3, 0.5, "x") == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # only the (3, 0.5) one


def test_ray_workers_and_tokenizer_actors_stay_within_the_cluster(samples, tmp_path, monkeypatch, caplog):
    ray = pytest.importorskip("ray")
    from uvd_pipeline.engines import ray_engine
    from ..conftest import single_image_recipe

    seen = []

    def recording_placement(*args, **kwargs):  # the real placement, recorded
        seen.append(real(*args, **kwargs))
        return seen[-1]

    real = ray_engine.placement
    monkeypatch.setattr(ray_engine, "placement", recording_placement)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    recipe = single_image_recipe(samples)
    recipe["sources"] = recipe["sources"][:1]
    try:
        with caplog.at_level(logging.WARNING, logger="uvd_pipeline.engines"):
            summary = run_recipe(parse_recipe(recipe), str(tmp_path / "ray"), engine="ray", workers=6, quiet=True)
    finally:
        ray.shutdown()
    assert summary.failures == [] and summary.committed == summary.planned
    assert "--workers 6 is more than the 2 CPUs of this Ray cluster: running 2 worker processes" in caplog.text
    run = seen[-1]  # the run's own placement (the resume identity asks placement for the device first)
    assert run.actors == 2 and run.task_options["num_cpus"] == pytest.approx((2 - 2 * 0.5) / 2)
    reference = local_digest_of(recipe, tmp_path / "local", summary.planned)
    assert dataset_digest(open_dataset(str(tmp_path / "ray"))) == reference


def test_beam_local_worker_processes_stay_within_the_machine(tmp_path, monkeypatch, caplog):
    pytest.importorskip("apache_beam")
    from apache_beam.options.pipeline_options import DirectOptions

    from uvd_pipeline.engines import beam_runner

    monkeypatch.setattr(machine, "machine_cpus", lambda: 2)
    monkeypatch.setattr(beam_runner, "machine_cpus", lambda: 2)
    with caplog.at_level(logging.WARNING, logger="uvd_pipeline.engines"):
        pipeline, local = beam_runner.make_pipeline([], 19, str(tmp_path / "log"))
    assert local and pipeline.options.view_as(DirectOptions).direct_num_workers == 2
    assert "--workers 19 is more than the 2 CPUs of this machine" in caplog.text
    pipeline, _ = beam_runner.make_pipeline([], 19, str(tmp_path / "log"), oversubscribe=True)
    assert pipeline.options.view_as(DirectOptions).direct_num_workers == 19
