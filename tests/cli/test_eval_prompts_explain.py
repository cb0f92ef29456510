"""`uvd eval-prompts` explains itself: with no prompt written it says, per evaluation task, which
dataset tasks qualify, how many test and train sequences they have, and what to change; the
change it names works. Stdout is a pipe."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import yaml
from PIL import Image


def uvd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, cwd=cwd)


def test_zero_prompts_say_why_and_the_named_change_gives_prompts(tmp_path):
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    edges = {"plugin": "image_folder", "params": {"path": "imgs"}, "category": "annotated_images",
             "renderers": [{"plugin": "canny_edges"}], "sequencer": {"plugin": "pairs", "params": {"min_pairs": 1}}}
    recipe = {"name": "ev", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8}, "sources": [
        {"name": "held_out_edges", "task": "edges", "test_fraction": 1.0, **edges},
        {"name": "train_only_seg", "task": "segmentation", **edges},
    ]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert uvd("run", "r.yaml", "--out", "out", "--engine", "local", cwd=tmp_path).returncode == 0

    res = uvd("eval-prompts", "out", "--out", "p.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("wrote 0 prompts to p.jsonl")
    edges_why = next(line for line in lines if line.startswith("why: edges:"))
    assert "qualifying tasks edges, edge_detection, edge; 1 test and 0 train sequences from held_out_edges" in edges_why
    assert "4 test pair(s), a prompt takes 6 (--pairs 5 + the query): lower --pairs to 3" in edges_why
    seg_why = next(line for line in lines if line.startswith("why: segmentation:"))
    assert "0 test and 1 train sequences from train_only_seg" in seg_why
    assert "set test_fraction (e.g. 0.1) on source(s) train_only_seg" in seg_why
    video_why = next(line for line in lines if line.startswith("why: video:"))
    assert "no source of category unlabelled_videos" in video_why

    fixed = uvd("eval-prompts", "out", "--out", "p.jsonl", "--pairs", "3", cwd=tmp_path)
    assert fixed.stdout.startswith("wrote 1 prompts to p.jsonl: edges 1")
    [prompt] = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert prompt["task"] == "edges" and prompt["context_images"] == 7
    assert "why:" not in fixed.stdout  # with prompts written, only the empty tasks are explained
    assert any(line.startswith("no prompts: segmentation:") for line in fixed.stdout.splitlines())
