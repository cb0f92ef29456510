"""Parameters a user can find: `uvd plugins show NAME` (params with type, default and description
from the pydantic model, what the plugin reads, a recipe snippet), unknown-parameter errors that
list the valid ones and suggest the closest, and docs/SOURCES.md covering every built-in source."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from uvd_pipeline.recipe import parse_recipe

REPO = Path(__file__).resolve().parents[2]


def uvd(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_show_lists_params_expectations_and_a_recipe_that_validates(tmp_path):
    res = uvd("plugins", "show", "coco", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    row = next(line for line in lines if "images_per_unit" in line)
    assert "int" in row and "64" in row  # type and default, on the parameter's row
    row = next(line for line in lines if line.startswith("│ kind "))
    assert "'all' | 'boxes' | 'keypoints' | 'segmentation'" in row and "which annotations to read and check" in row
    assert any("annotations" in line and "(required)" in line and "COCO JSON files" in line for line in lines)
    assert "COCO annotations" in res.stdout  # what it reads
    about = json.loads(uvd("plugins", "show", "coco", "--json", "-", cwd=tmp_path).stdout)
    assert {p["name"]: p["default"] for p in about["params"]}["images_per_unit"] == 64
    snippet = yaml.safe_load(about["recipe"])
    assert snippet["sources"][0]["plugin"] == "coco"
    assert set(snippet["sources"][0]["params"]) == {"images", "annotations"}  # the required ones
    parse_recipe({"name": "s", **snippet})  # the placeholders are strings: the snippet validates as is
    # a sequencer's snippet puts it where a sequencer goes
    pairs = json.loads(uvd("plugins", "show", "pairs", "--json", "-", cwd=tmp_path).stdout)
    assert yaml.safe_load(pairs["recipe"])["sources"][0]["sequencer"] == {"plugin": "pairs"}
    assert "min_pairs" in {p["name"] for p in pairs["params"]}


def test_unknown_names_suggest_the_closest(tmp_path):
    res = uvd("plugins", "show", "cocoo", cwd=tmp_path)
    assert res.returncode == 2 and "did you mean 'coco'?" in res.stderr
    recipe = {"name": "r", "seed": 0, "tokenizer": {"preset": "tiny"},
              "sources": [{"name": "c", "plugin": "coco", "category": "annotated_images",
                           "params": {"images": "i", "annotations": ["a.json"], "image_per_unit": 4}}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    res = uvd("plan", "r.yaml", cwd=tmp_path)
    assert res.returncode == 2
    err = " ".join(res.stderr.split())
    assert "r.yaml" in err and "sources[0].params.image_per_unit: unknown parameter of source 'coco'" in err
    assert "did you mean 'images_per_unit'?" in err
    assert "valid: images, annotations, kind, images_per_unit, max_images" in err
    recipe["sources"][0]["params"].pop("image_per_unit")
    recipe["sources"][0]["sequencr"] = {"plugin": "pairs"}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    err = " ".join(uvd("plan", "r.yaml", cwd=tmp_path).stderr.split())
    assert "sources[0].sequencr: unknown field; did you mean 'sequencer'?" in err


def test_sources_doc_covers_every_builtin_source_with_a_valid_recipe(tmp_path):
    text = (REPO / "docs" / "SOURCES.md").read_text()
    listed = json.loads(uvd("plugins", "list", "--json", "-", cwd=tmp_path).stdout)
    builtin = {p["name"] for p in listed if p["kind"] == "source" and p["target"].startswith("uvd_pipeline.")}
    assert builtin >= {"coco", "webdataset", "imagenet", "vipseg_video", "jhmdb_video", "ava_video", "objaverse"}
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    assert builtin <= set(sections), f"missing from docs/SOURCES.md: {sorted(builtin - set(sections))}"
    for name in builtin:
        blocks = re.findall(r"```yaml\n(.*?)```", sections[name], flags=re.S)
        assert blocks, f"docs/SOURCES.md: {name} has no recipe"
        layout = re.findall(r"```\n(.*?)```", sections[name], flags=re.S)
        assert layout and "/" in layout[0], f"docs/SOURCES.md: {name} has no on-disk layout"
        data = yaml.safe_load(blocks[0])
        assert [s["plugin"] for s in data["sources"]] == [name]
        parse_recipe({"name": "doc", "tokenizer": {"preset": "tiny"}, **data}, origin=f"docs/SOURCES.md ({name})")


def test_every_builtin_snippet_validates_or_says_what_else_it_needs(tmp_path):
    from uvd_pipeline import registry
    from uvd_pipeline.cli.plugins_show import param_rows, snippet, snippet_problem

    checked = 0
    for kind in registry.KINDS:
        for name in registry.names(kind):
            if not registry.target(kind, name).startswith("uvd_pipeline."):
                continue
            cls = registry.load(kind, name)
            rows = param_rows(cls)
            text = snippet(kind, name, rows)
            problem = snippet_problem(cls, rows)
            if problem:  # a rule across optional params (paired: input+output or pairs_file)
                continue
            parse_recipe({"name": "s", **yaml.safe_load(text)}, origin=f"{kind} {name}")
            checked += 1
    assert checked >= 30
    res = uvd("plugins", "show", "paired", "--kind", "source", cwd=tmp_path)
    assert "# also needed: give either input and output folders, or a pairs_file" in res.stdout
