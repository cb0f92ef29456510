"""The example plugin package, installed as a user would (pip install -e examples/uvd-plugin-example),
runs its recipe end to end on the local and Ray engines; its sequences land in the manifest."""

from __future__ import annotations

from collections import Counter
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from uvd_pipeline import registry
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import load_recipe

from .engines.helpers import ray_cluster  # noqa: F401 (a fixture)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "uvd-plugin-example"


def _installed() -> bool:
    try:
        distribution("uvd-plugin-example")
    except PackageNotFoundError:
        return False
    return "hand_keypoints_csv" in registry.names("source")


pytestmark = pytest.mark.skipif(
    not _installed(),
    reason="the example plugin is not installed; `pip install -e examples/uvd-plugin-example` (make test does it)",
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory holding data/hands as the recipe's relative paths expect."""
    from uvd_plugin_example.sample_data import make_hand_data

    root = tmp_path_factory.mktemp("hands")
    planted = make_hand_data(root / "data" / "hands", n_images=16, seed=0, faults=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        yield root, planted


@pytest.fixture(scope="module")
def local_run(workdir):
    root, _ = workdir
    out = root / "out-local"
    summary = run_recipe(load_recipe(EXAMPLE / "recipe.yaml"), str(out), engine="local", quiet=True)
    assert summary.failures == []
    return out


def test_the_recipe_names_the_example_plugins():
    recipe = load_recipe(EXAMPLE / "recipe.yaml")
    src = recipe.sources[0]
    assert (src.plugin, [r.plugin for r in src.renderers], src.sequencer.plugin) == (
        "hand_keypoints_csv", ["hand_skeleton"], "hand_pose_pairs"
    )
    dists = {p.name: p.distribution for p in registry.describe() if p.name.startswith("hand_")}
    assert set(dists.values()) == {"uvd-plugin-example"} and len(dists) == 3


def test_local_engine_writes_hand_pose_sequences(local_run, workdir):
    _, planted = workdir
    ds = open_dataset(str(local_run))
    m = ds.manifest.to_pylist()
    assert len(m) == 2  # 16 good images -> 16 (image, skeleton) pairs -> 2 x 8 pairs
    assert {(r["source"], r["category"], r["task"], r["n_images"]) for r in m} == {
        ("hands", "annotated_images", "hand_pose", 16)
    }
    for r in m:  # pairs: an image, then its skeleton, whose id derives from the image's id
        assert len(set(r["image_ids"])) == 16 and len(r["records"]) == 8
    reasons = Counter(ds.rejects().column("reason").to_pylist())
    assert set(reasons) == set(planted["faults"]) and sum(reasons.values()) == 4
    totals = ds.summary()["totals"]
    assert totals["records_read"] == totals["records_used"] + totals["records_rejected"] == 16 + 4
    assert verify_dataset(str(local_run)) == []


def test_ray_engine_gives_the_same_dataset(ray_cluster, local_run, workdir):  # noqa: F811 (a fixture)
    root, _ = workdir
    out = root / "out-ray"
    summary = run_recipe(load_recipe(EXAMPLE / "recipe.yaml"), str(out), engine="ray", workers=2, quiet=True)
    assert summary.failures == [] and summary.committed == summary.planned == 3  # 19 image names / 8
    ds = open_dataset(str(out))
    assert set(ds.manifest.column("task").to_pylist()) == {"hand_pose"}
    assert dataset_digest(ds) == dataset_digest(open_dataset(str(local_run)))
