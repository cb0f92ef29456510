"""The decoding libraries' versions are recorded with the build, and a resume under other
versions warns (it is not refused)."""

from __future__ import annotations

import json
import logging

import numpy as np
import PIL
import yaml
from PIL import Image

from uvd_pipeline.engines.base import run_recipe
from uvd_pipeline.engines.environment import decoding_versions, version_changes
from uvd_pipeline.manifests.schema import DATASET_FILE, RECIPE_FILE
from uvd_pipeline.recipe import parse_recipe


def test_the_record_names_the_installed_decoders():
    import cv2

    got = decoding_versions()
    assert got["pillow"] == PIL.__version__ and got["numpy"] == np.__version__
    assert got["opencv"].startswith(cv2.__version__)  # the wheel's version adds a build number
    assert "torch" in got and "python" in got
    assert version_changes(got, got) == {}
    assert version_changes({**got, "pillow": "13.0.0"}, got) == {"pillow": ("13.0.0", got["pillow"])}
    assert version_changes({}, {"av": "14.0"}) == {"av": (None, "14.0")}


def _recipe(folder):
    return parse_recipe({"name": "env", "tokenizer": {"preset": "tiny", "batch_size": 4},
                         "sources": [{"name": "imgs", "plugin": "image_folder", "params": {"path": str(folder), "unit_size": 2},
                                      "category": "unlabelled_images"}]})


def test_versions_are_recorded_and_a_resume_under_others_warns(tmp_path, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"i{i}.png")
    out = tmp_path / "out"
    recipe = _recipe(folder)
    run_recipe(recipe, str(out), engine="local", quiet=True)
    current = decoding_versions()
    resolved = yaml.safe_load((out / RECIPE_FILE).read_text())
    assert resolved["environment"] == current
    assert json.loads((out / DATASET_FILE).read_text())["environment"] == current
    assert resolved["fingerprint"] == recipe.fingerprint()  # the record is beside the fingerprint, not in it

    # resume in the same environment: no warning
    (next(iter((out / "ledger").iterdir()))).unlink()  # one unit to redo
    with caplog.at_level(logging.INFO, logger="uvd_pipeline"):
        summary = run_recipe(recipe, str(out), engine="local", quiet=True)
    assert summary.committed == 1 and not [r for r in caplog.records if "environment" in r.getMessage()]

    # the first run had another Pillow: the resume warns, names it, and still runs
    resolved["environment"]["pillow"] = "9.0.0"
    (out / RECIPE_FILE).write_text(yaml.safe_dump(resolved, sort_keys=False))
    (next(iter((out / "ledger").iterdir()))).unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="uvd_pipeline"):
        summary = run_recipe(recipe, str(out), engine="local", quiet=True)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "decoding library" in r.getMessage()]
    assert len(warned) == 1 and f"pillow 9.0.0 -> {current['pillow']}" in warned[0].getMessage()
    assert summary.committed == 1 and not summary.failures
    assert yaml.safe_load((out / RECIPE_FILE).read_text())["environment"]["pillow"] == "9.0.0"  # the first run's
    assert json.loads((out / DATASET_FILE).read_text())["environment"] == current  # the latest run's
