"""Every engine gives the same dataset; reruns skip committed units; a killed run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import parse_recipe

from ..conftest import single_image_recipe
from .helpers import local_digest_of, ray_cluster  # noqa: F401 (ray_cluster: a fixture)


@pytest.fixture(scope="module")
def reference(samples, tmp_path_factory):
    """The local engine's output: the reference every other run must equal."""
    out = tmp_path_factory.mktemp("local")
    return out, local_digest_of(single_image_recipe(samples), out, units=6)


def test_local_output_is_complete_and_verified(reference):
    out, _ = reference
    ds = open_dataset(str(out))
    summary = ds.summary()
    assert summary["complete"] and summary["totals"]["sequences"] == 96
    assert summary["totals"]["records_read"] == 98 and summary["totals"]["records_rejected"] == 2
    assert summary["tokenizer"]["random_weights"] is True
    assert verify_dataset(str(out)) == []
    assert (out / "recipe.resolved.yaml").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_matches_local(ray_cluster, reference, samples, tmp_path, workers):  # noqa: F811 (a fixture)
    recipe = parse_recipe(single_image_recipe(samples))
    summary = run_recipe(recipe, str(tmp_path), engine="ray", workers=workers, quiet=True)
    assert summary.failures == []
    assert dataset_digest(open_dataset(str(tmp_path))) == reference[1]
    assert verify_dataset(str(tmp_path)) == []


def test_rerun_commits_nothing_new(reference, samples):
    out, digest = reference
    before = {p.name: p.stat().st_mtime_ns for p in (out / "ledger").iterdir()}
    summary = run_recipe(parse_recipe(single_image_recipe(samples)), str(out), engine="local", quiet=True)
    assert summary.skipped == summary.planned and summary.committed == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "ledger").iterdir()} == before
    assert dataset_digest(open_dataset(str(out))) == digest


def test_a_different_recipe_into_the_same_output_is_refused(reference, samples):
    from uvd_pipeline.errors import RecipeError

    out, _ = reference
    with pytest.raises(RecipeError, match="different recipe"):
        run_recipe(parse_recipe(single_image_recipe(samples, seed=7)), str(out), engine="local", quiet=True)


def _uvd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvd_pipeline", *args]


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_digest(samples, tmp_path, engine):
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(yaml.safe_dump(single_image_recipe(samples, unit_size=4)))
    full = tmp_path / "full"
    subprocess.run(_uvd("run", str(recipe_path), "--out", str(full), "--engine", "local", "-q"), check=True)
    total = len(list((full / "ledger").iterdir()))

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _uvd("run", str(recipe_path), "--out", str(out), "--engine", engine, "-q"),
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and proc.poll() is None:
        committed = len(list((out / "ledger").glob("*.json"))) if (out / "ledger").exists() else 0
        if committed >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list((out / "ledger").glob("*.json"))) < total
    assert verify_dataset(str(out)) == []  # what was committed is intact; nothing half-visible

    subprocess.run(_uvd("run", str(recipe_path), "--out", str(out), "--engine", engine, "-q"), check=True)
    assert dataset_digest(open_dataset(str(out))) == dataset_digest(open_dataset(str(full)))
