"""`uvd plan` on the demo recipe, then `uvd run`: the plan's counts are what the run builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from uvd_pipeline.manifests import Dataset

REPO = Path(__file__).resolve().parents[2]


def uvd(*args, cwd=None, check=True):
    env = dict(os.environ, COLUMNS="200")  # wide tables: nothing wrapped or elided
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, check=check,
                          cwd=cwd, env=env)


def test_plan_then_run_the_demo_recipe(samples, tmp_path):
    """The demo recipe's image sources as shipped (data/samples relative to the working directory;
    its video, 3D and annotated sources have their own tests), with a held-out quarter: records
    are predicted exactly; where a source has no rejects, so are its sequences, images and tokens;
    elsewhere the difference is exactly the rejected records. The held-out split shares no image
    with the training split."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "samples").symlink_to(samples)
    recipe = yaml.safe_load((REPO / "recipes" / "demo.yaml").read_text())
    recipe["sources"] = [s for s in recipe["sources"] if s["name"] in ("web_images", "laion_subset")]
    assert len(recipe["sources"]) == 2
    for s in recipe["sources"]:
        s["test_fraction"] = 0.25
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(recipe))

    res = uvd("plan", "demo.yaml", "--json", "plan.json", "--units", cwd=tmp_path)
    assert "predicted by source" in res.stdout and "GPU-hours" in res.stdout and "web_images-000000" in res.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    uvd("run", "demo.yaml", "--out", "out", "--engine", "local", "-q", cwd=tmp_path)
    ds = Dataset(str(tmp_path / "out"))
    built = ds.summary()
    assert plan["totals"]["records"] == built["totals"]["records_read"]
    rejected: dict[str, int] = {}
    for src in ds.rejects()["source"].to_pylist():
        rejected[src] = rejected.get(src, 0) + 1
    assert rejected == {"web_images": 2}  # the sample world's two bad files
    for row in plan["by"]["source"]:
        got = built["by"]["source"][row["key"]]
        miss = rejected.get(row["key"], 0)
        assert (row["sequences"] - miss, row["images"] - miss, row["tokens"] - 256 * miss) == (
            got["sequences"], got["images"], got["tokens"])
    assert plan["by"]["source"][0]["key"] == "laion_subset" and "laion_subset" not in rejected

    m = ds.manifest.to_pylist()
    test = {i for r in m if r["split"] == "test" for i in r["image_ids"]}
    train = {i for r in m if r["split"] == "train" for i in r["image_ids"]}
    assert test and train and not test & train
    assert "share no image id with train" in uvd("audit", "out", "--targets", "none", cwd=tmp_path).stdout


def test_plan_rejects_a_bad_recipe_and_rate(tmp_path, recipe_file):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {name: x, plugin: image_folder, params: {path: .}, category: unlabelled_images, max_sequences: -3}\n")
    res = uvd("plan", str(bad), check=False)
    assert res.returncode == 2 and "sources[0].max_sequences" in res.stderr
    res = uvd("plan", str(recipe_file), "--gpu-images-per-s", "0", check=False)
    assert res.returncode == 2
    res = uvd("plan", str(recipe_file), "--gpu-images-per-s", "96")
    assert "98 images at 96 images/s per GPU" in res.stdout  # the two bad files are not known until read
