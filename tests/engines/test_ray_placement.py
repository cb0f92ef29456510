"""Where the Ray engine puts work: tokenizer actors per GPU or per worker, and a GPU share for the
unit tasks when a build stage declares `needs_gpu`. The cluster in the real-run test declares one
logical GPU (Ray schedules on declared resources, so no CUDA device is needed to test placement)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from uvd_pipeline import registry
from uvd_pipeline.engines.base import RunFailed
from uvd_pipeline.engines.ray_engine import placement
from uvd_pipeline.engines.ray_placement import Nodes, ShrinkWatch, fits, replan

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


def nodes(*cpus_gpus: tuple[float, float]) -> Nodes:
    return Nodes({f"n{i}": {"CPU": c, "GPU": g} for i, (c, g) in enumerate(cpus_gpus)})


def test_ray_nodes_snapshot_keeps_the_alive_nodes_only():
    snap = Nodes.from_ray([
        {"NodeID": "a", "Alive": True, "Resources": {"CPU": 1.0, "memory": 5.0}},
        {"NodeID": "b", "Alive": False, "Resources": {"CPU": 2.0, "GPU": 1.0}},
    ])
    assert snap == Nodes({"a": {"CPU": 1.0, "GPU": 0.0}}) and snap.cpus == 1.0


def test_a_lost_node_that_held_a_tokenizer_actor_gets_a_plan_that_fits_the_head():
    """bench/ray_multinode.py --scenarios actor --cpus 1,2: planned for 3 CPUs (2 actors of 0.5,
    unit tasks of 1 CPU), which fits while the 2-CPU node lives; on the 1-CPU head alone the two
    actors take it all and no unit task can ever start (the run hung). The new plan fits."""
    start = placement(3.0, 0, workers=2, in_flight=4)
    assert (start.actors, start.actor_options["num_cpus"], start.task_options["num_cpus"]) == (2, 0.5, 1.0)
    assert fits(start, nodes((1, 0), (2, 0)))
    head = nodes((1, 0))
    assert not fits(start, head)
    new = replan(start, head, 2, 4)
    assert new is not None and new != start and fits(new, head)
    assert new.actors * new.actor_options["num_cpus"] + new.task_options["num_cpus"] <= 1.0


def test_a_lost_node_whose_plan_still_fits_keeps_the_plan():
    """--scenarios worker: head 2 CPUs, the 1-CPU node lost; both actors and a unit task fit the head."""
    start = placement(3.0, 0, workers=2, in_flight=4)
    assert replan(start, nodes((2, 0)), 2, 4) is start


@pytest.mark.parametrize("left", [nodes(), nodes((0, 0)), nodes((0, 0), (0, 0))])
def test_no_cpu_left_has_no_plan(left):
    assert replan(placement(3.0, 0, workers=2, in_flight=4), left, 2, 4) is None


def test_a_cuda_tokenizer_or_a_gpu_build_stage_is_never_replanned_onto_cpus():
    gpu_tok = placement(16.0, 2, workers=4, in_flight=8)
    assert replan(gpu_tok, nodes((8, 0)), 4, 8) is None  # the GPU node left: no CUDA tokenizer
    pinned = placement(8.0, 2, workers=2, in_flight=4, tokenizer_device="cpu", build_gpu=True)
    assert replan(pinned, nodes((8, 0)), 2, 4, build_gpu=True) is None


def test_a_gpu_node_lost_halves_the_gpu_actors():
    start = placement(16.0, 2, workers=4, in_flight=8)
    left = nodes((8, 1))
    assert not fits(start, left)
    new = replan(start, left, 4, 8)
    assert new is not None and (new.actors, new.device, new.actor_options["num_gpus"]) == (1, "cuda", 1.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_replans_once_when_a_node_leaves_and_fails_a_stalled_run_with_one_line():
    clock, seen = FakeClock(), [nodes((1, 0), (2, 0))]
    start = placement(3.0, 0, workers=2, in_flight=4)
    watch = ShrinkWatch(lambda: seen[-1], lambda p, n: replan(p, n, 2, 4), every=2, stall=60, clock=clock)
    assert watch.look(start) is None  # too early to look
    clock.now = 2
    assert watch.look(start) is None  # nothing changed
    seen.append(nodes((1, 0)))
    clock.now = 4
    new = watch.look(start)
    assert new is not None and fits(new, seen[-1])
    clock.now = 6
    assert watch.look(new) is None  # nothing more to do
    # Now nothing is left that can run a unit: the run fails after `stall` without a finished unit.
    seen.append(nodes((0, 0)))
    clock.now = 8
    assert watch.look(new) is None
    clock.now = 40
    watch.finished()  # a unit still finished: the stall counts from here
    clock.now = 90
    assert watch.look(new) is None
    clock.now = 101
    with pytest.raises(RunFailed) as err:
        watch.look(new)
    message = str(err.value)
    assert "\n" not in message and "shrank from 2 node(s), 3 CPUs" in message and "rerun the same command" in message


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
