"""No silent empty datasets: four annotated COCO images with `pairs` (8 per sequence) give no
sequence. `uvd plan` predicts it, `uvd run` ends with a warning naming the source, its top reject
reason and the parameter to change, and `uvd run --strict` exits 1. Stdout is a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import yaml
from PIL import Image


def uvd(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, cwd=cwd, env=env)


def four_coco_images(root):
    """A real COCO instances file over four PNGs, one box each."""
    (root / "images").mkdir(parents=True)
    images, annotations = [], []
    for i in range(4):
        name = f"{i:012d}.png"
        Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)).save(root / "images" / name)
        images.append({"id": i + 1, "file_name": name, "width": 64, "height": 48})
        annotations.append({"id": 100 + i, "image_id": i + 1, "category_id": 1, "bbox": [4, 4, 20, 16], "area": 320, "iscrowd": 0})
    coco = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
    (root / "instances.json").write_text(json.dumps(coco))


def recipe(tmp_path, **sequencer_params):
    four_coco_images(tmp_path / "coco")
    data = {
        "name": "small_coco", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [{"name": "my_coco", "plugin": "coco", "category": "annotated_images", "task": "coco_boxes",
                     "params": {"images": "coco/images", "annotations": ["coco/instances.json"], "kind": "boxes"},
                     "renderers": [{"plugin": "coco_boxes"}],
                     "sequencer": {"plugin": "pairs", "params": sequencer_params}}],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))


def test_plan_predicts_the_empty_source(tmp_path):
    recipe(tmp_path)
    res = uvd("plan", "r.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "unknown" not in res.stdout  # COCO is counted from its annotation file
    warning = next(line for line in res.stdout.splitlines() if line.startswith("warning:"))
    assert "'my_coco'" in warning and "0 sequences predicted from 4 records" in warning
    assert "sources[0].sequencer.params.min_pairs (now 8)" in warning
    plan = json.loads(uvd("plan", "r.yaml", "--json", "-", cwd=tmp_path).stdout)
    assert plan["totals"]["records"] == 4 and plan["totals"]["sequences"] == 0
    assert len(plan["warnings"]) == 1 and "min_pairs" in plan["warnings"][0]


def test_run_warns_names_the_reason_and_strict_fails(tmp_path):
    recipe(tmp_path)
    res = uvd("run", "r.yaml", "--out", "out", "--engine", "local", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    warning = next(line for line in res.stderr.splitlines() if line.startswith("warning:"))
    assert "source 'my_coco' (coco) gave 0 sequences from 4 records read" in warning
    assert "incomplete_sequence 4" in warning
    assert "sources[0].sequencer.params.min_pairs (now 8)" in warning
    # the same dataset, resumed under --strict: nothing to build, the verdict is the same, exit 1
    strict = uvd("run", "r.yaml", "--out", "out", "--engine", "local", "--strict", "--json", "-", cwd=tmp_path)
    assert strict.returncode == 1, strict.stderr
    summary = json.loads(strict.stdout)
    assert summary["units"] == {"planned": 1, "skipped": 1, "committed": 0, "failed": 0}
    [flag] = summary["warnings"]
    assert flag["source"] == "my_coco" and flag["problem"] == "empty" and flag["reasons"] == {"incomplete_sequence": 4}
    assert "--strict" in strict.stderr


def test_the_hinted_change_fixes_it(tmp_path):
    recipe(tmp_path, min_pairs=1)
    res = uvd("run", "r.yaml", "--out", "out", "--engine", "local", "--strict", "--json", "-", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["totals"]["sequences"] == 1 and summary["warnings"] == []
    assert "warning:" not in res.stderr
