"""Where the Ray engine puts work: tokenizer actors per GPU or per worker, and a GPU share for the
unit tasks when a build stage declares `needs_gpu`. The cluster in the real-run test declares one
logical GPU (Ray schedules on declared resources, so no CUDA device is needed to test placement)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from uvd_pipeline import registry
from uvd_pipeline.engines.ray_engine import placement

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = """[uvd_pipeline.transforms]
test_gpu_marker = tests.engines.gpu_plugins:GpuMarker
test_cpu_marker = tests.engines.gpu_plugins:CpuMarker
"""


def test_without_gpus_one_cpu_tokenizer_per_worker_and_no_gpu_anywhere():
    p = placement(2.0, 0, workers=2, in_flight=4, build_gpu=True)
    assert (p.actors, p.device, p.threads) == (2, "cpu", 1)
    assert "num_gpus" not in p.actor_options and "num_gpus" not in p.task_options
    assert p.task_options["num_cpus"] == pytest.approx((2.0 - 2 * 0.5) / 2)


def test_with_gpus_one_tokenizer_per_gpu_and_cpu_only_unit_tasks():
    p = placement(16.0, 2, workers=8, in_flight=16)
    assert (p.actors, p.device) == (2, "cuda") and p.actor_options["num_gpus"] == 1.0
    assert "num_gpus" not in p.task_options


def test_gpu_build_stages_share_half_the_gpus_with_the_tokenizers():
    p = placement(16.0, 2, workers=8, in_flight=16, build_gpu=True)
    assert p.actor_options["num_gpus"] == 0.5
    assert p.task_options["num_gpus"] == pytest.approx(1.0 / 16)


def test_a_tokenizer_pinned_to_the_cpu_leaves_every_gpu_to_the_build_stages():
    p = placement(8.0, 2, workers=2, in_flight=4, tokenizer_device="cpu", build_gpu=True)
    assert p.device == "cpu" and "num_gpus" not in p.actor_options
    assert p.task_options["num_gpus"] == 0.5


@pytest.mark.parametrize("gpus", [1, 2, 8])
@pytest.mark.parametrize("actors", [None, 1, 3, 16])
@pytest.mark.parametrize("build_gpu", [False, True])
def test_the_actors_and_the_tasks_in_flight_always_fit_on_the_gpus(gpus, actors, build_gpu):
    """More actors than GPUs once asked for a whole GPU each: the extra actors never started and
    the units sent to them waited forever. Shares now always fit."""
    in_flight = 6
    p = placement(16.0, gpus, workers=3, in_flight=in_flight, build_gpu=build_gpu, tokenizer_actors=actors)
    used = p.actors * p.actor_options.get("num_gpus", 0) + in_flight * p.task_options.get("num_gpus", 0)
    assert used <= gpus + 1e-9
    assert p.actor_options.get("num_gpus", 0) > 0 and (p.task_options.get("num_gpus", 0) > 0) == build_gpu


@pytest.fixture
def marker_plugins(tmp_path, monkeypatch):
    """The marker transforms as an installed distribution, visible to this process and to the
    Ray workers it starts (they inherit PYTHONPATH)."""
    site = tmp_path / "site"
    dist = site / "uvd_gpu_markers-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: uvd-gpu-markers\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    for p in (str(site), str(REPO)):
        monkeypatch.syspath_prepend(p)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")]))
    registry.clear_cache()
    yield
    registry.clear_cache()


def marker_recipe(samples: Path, plugin: str, log_dir: Path) -> dict:
    from ..conftest import single_image_recipe

    data = single_image_recipe(samples, tokenizer={"preset": "tiny", "batch_size": 8, "device": "cpu"})
    data["sources"] = data["sources"][:1]
    data["sources"][0]["transforms"] = [{"plugin": plugin, "params": {"log_dir": str(log_dir)}}]
    return data


def test_a_needs_gpu_stage_runs_in_unit_tasks_holding_a_gpu_share(marker_plugins, samples, tmp_path):
    ray = pytest.importorskip("ray")
    from uvd_pipeline.engines import run_recipe
    from uvd_pipeline.manifests import dataset_digest, open_dataset
    from uvd_pipeline.pipeline.plan import gpu_stages
    from uvd_pipeline.recipe import parse_recipe

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False)
    seen: dict[str, list[dict]] = {}
    try:
        for plugin in ("test_gpu_marker", "test_cpu_marker"):
            logs = tmp_path / plugin
            logs.mkdir()
            recipe = parse_recipe(marker_recipe(samples, plugin, logs))
            assert bool(gpu_stages(recipe)) == (plugin == "test_gpu_marker")
            summary = run_recipe(recipe, str(tmp_path / f"ray-{plugin}"), engine="ray", workers=2, quiet=True)
            assert summary.failures == [] and summary.committed == summary.planned > 0
            seen[plugin] = [json.loads(p.read_text()) for p in logs.glob("*.json")]
    finally:
        ray.shutdown()
    assert seen["test_gpu_marker"] and all(s["gpus"] == ["0"] for s in seen["test_gpu_marker"]), seen
    assert seen["test_cpu_marker"] and all(s["gpus"] == [] for s in seen["test_cpu_marker"]), seen
    # Placement changes where stages run, never what they make.
    local = tmp_path / "local"
    recipe = parse_recipe(marker_recipe(samples, "test_gpu_marker", tmp_path / "test_gpu_marker"))
    run_recipe(recipe, str(local), engine="local", quiet=True)
    assert dataset_digest(open_dataset(str(local))) == dataset_digest(open_dataset(str(tmp_path / "ray-test_gpu_marker")))
