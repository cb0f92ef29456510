"""kill -9 during the signature pass and during the cluster pass, then rerun: the decisions, the
rejects and the digest equal those of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.curation.worlds import dup_recipe, full_curation, make_dup_world
from uvd_pipeline.curation.ledger import DECISIONS_FILE, LEDGER_DIR
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset
from uvd_pipeline.manifests.store import OutputStore
from uvd_pipeline.recipe import parse_recipe

pytest.importorskip("skimage")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    make_dup_world(root)
    recipe = dup_recipe(root, full_curation(root))
    for s in recipe["sources"]:
        s["params"]["unit_size"] = 1  # many small units: a long signature pass to kill
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = root / "reference"
    run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True)
    ref = OutputStore(str(out))
    return path, recipe, dataset_digest(open_dataset(str(out))), ref.read_text(DECISIONS_FILE)


def kill_when(recipe_path: Path, out: Path, ready, timeout: float = 120) -> bool:
    """Start `uvd run` and SIGKILL its process group once ready(store) holds; True if killed
    before the cluster pass committed its decisions."""
    proc = subprocess.Popen([sys.executable, "-m", "uvd_pipeline", "run", str(recipe_path), "--out", str(out),
                             "--engine", "local"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    store = OutputStore(str(out))
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if store.local and Path(store.root).exists() and ready(store):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return not store.exists(DECISIONS_FILE)


def signatures_started(store: OutputStore) -> bool:
    return len(store.list(LEDGER_DIR, ".json")) >= 2


def cluster_started(store: OutputStore) -> bool:
    base = Path(store.root) / "curation" / "exchange" / "cluster"
    return base.exists() and any(p.name == "plan.json" for p in base.rglob("plan.json"))


@pytest.mark.parametrize("ready", [signatures_started, cluster_started], ids=["signature pass", "cluster pass"])
def test_kill_then_rerun_gives_the_uninterrupted_decisions(setup, tmp_path, ready) -> None:
    recipe_path, recipe, digest, decisions = setup
    out = tmp_path / "out"
    killed = kill_when(recipe_path, out, ready)
    assert killed, "the run committed its decisions before the kill: the trial proves nothing"
    run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True)
    assert OutputStore(str(out)).read_text(DECISIONS_FILE) == decisions
    assert dataset_digest(open_dataset(str(out))) == digest
