"""Held-out splits that do not leak, and the paper's evaluation prompts built from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.audit.worlds import build_once, install_test_plugins, make_images, recipe_dict, source
from uvd_pipeline.audit.report import split_leaks
from uvd_pipeline.exports.eval_prompts import build_eval_prompts, decode_prompt
from uvd_pipeline.ids import unit_fraction
from uvd_pipeline.manifests import Dataset
from uvd_pipeline.pipeline.build import UnitBuilder
from uvd_pipeline.pipeline.plan import plan_units
from uvd_pipeline.recipe import parse_recipe

WINDOWS = {"plugin": "test_windows", "params": {"size": 4, "stride": 2}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_world")
    install_test_plugins(root / "plugins")
    return {
        "depth": make_images(root / "depth", 18, seed=31),
        "video": make_images(root / "video", 16, seed=32),
        "windows": make_images(root / "windows", 20, seed=33),
    }


def test_overlapping_sequences_share_one_split(world):
    """Windows overlap by 2 images: deciding each window alone would split overlapping windows
    (the test below proves it happens here); the union-find keeps every group in one split."""
    r = parse_recipe(recipe_dict([source("w", world["windows"], unit_size=20, sequencer=WINDOWS, test_fraction=0.5)]))
    built = UnitBuilder(r).build(plan_units(r)[0])
    naive = {s.id: unit_fraction("split", "w", s.split_key) < 0.5 for s in built.sequences}
    assert len(set(naive.values())) == 2, "per-sequence hashing would leak here"
    assert len({s.split for s in built.sequences}) == 1  # one chain of overlaps -> one group
    r2 = parse_recipe(recipe_dict([source("w", world["windows"], unit_size=4, sequencer=WINDOWS, test_fraction=0.5)]))
    splits = {}
    for unit in plan_units(r2):
        for s in UnitBuilder(r2).build(unit).sequences:
            for image in s.image_ids:
                splits.setdefault(image, set()).add(s.split)
    assert all(len(v) == 1 for v in splits.values())


@pytest.fixture(scope="module")
def dataset(world, tmp_path_factory):
    data = recipe_dict([
        source("nyu", world["depth"], unit_size=18, task="depth", category="annotated_images",
               sequencer={"plugin": "test_pairs", "params": {"pairs": 2}}, test_fraction=0.8),
        source("clips", world["video"], unit_size=16, task="video", category="unlabelled_videos",
               sequencer={"plugin": "test_windows", "params": {"size": 8, "stride": 4}}, test_fraction=0.99),
    ])
    return build_once(tmp_path_factory, "eval", data)


def test_no_image_of_a_test_sequence_is_in_a_train_one(dataset):
    m = Dataset(str(dataset)).manifest.to_pylist()
    test = {i for r in m if r["split"] == "test" for i in r["image_ids"]}
    train = {i for r in m if r["split"] == "train" for i in r["image_ids"]}
    assert test and train and not test & train
    assert split_leaks(Dataset(str(dataset))) == []


def test_eval_prompts_from_the_held_out_split(dataset, tmp_path):
    ds = Dataset(str(dataset))
    m = {r["sequence_id"]: r for r in ds.manifest.to_pylist()}
    out = tmp_path / "prompts.jsonl"
    summary = build_eval_prompts(str(dataset), str(out), pairs=5, frames=7)
    lines = out.read_text().splitlines()
    assert len(lines) == summary.prompts
    test_pairs = sum(r["n_images"] // 2 for r in m.values() if r["split"] == "test" and r["task"] == "depth")
    assert summary.by_task["depth"] == test_pairs // 6 >= 1
    assert summary.by_task["video"] == sum(r["split"] == "test" and r["task"] == "video" for r in m.values()) >= 1
    train_images = {i for r in m.values() if r["split"] == "train" for i in r["image_ids"]}
    for line in lines:
        rec, prompt, target = decode_prompt(line)
        assert all(m[s]["split"] == "test" for s in rec["sequence_ids"])
        assert not set(rec["image_ids"]) & train_images
        if rec["kind"] == "pairs":
            assert rec["task"] == "depth" and rec["context_images"] == 11 and prompt.size == 11 * 256
            # every (input, annotation) block sits next to its partner, the target is the query's partner
            blocks = {}
            for sid in rec["sequence_ids"]:
                toks = ds.tokens(sid).reshape(-1, 256)
                for k, image in enumerate(m[sid]["image_ids"]):
                    blocks[image] = toks[k]
            want = np.concatenate([blocks[i] for i in rec["image_ids"][:11]])
            assert np.array_equal(prompt, want) and np.array_equal(target, blocks[rec["image_ids"][11]])
        else:
            (sid,) = rec["sequence_ids"]
            toks = ds.tokens(sid)
            assert rec["context_images"] == 7
            assert np.array_equal(prompt, toks[: 7 * 256]) and np.array_equal(target, toks[7 * 256 : 8 * 256])
    again = tmp_path / "again.jsonl"
    build_eval_prompts(str(dataset), str(again))
    assert again.read_text() == out.read_text()  # seeded: the same prompts every time
    assert json.loads(lines[0])["prompt_id"].endswith("00000")
