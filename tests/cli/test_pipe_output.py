"""Output that survives a pipe: with stdout not a terminal, `uvd plan`, `uvd plugins list` and
`uvd audit` print every row at full width (no "…", no folded cell), and `--json -` prints the
same facts as JSON on stdout instead of the tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from uvd_pipeline.console.tables import PIPE_WIDTH, PipeSafeConsole


def uvd(*args, cwd=None, check=True):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True,
                          check=check, cwd=cwd, env=env)


def _big_recipe(tmp_path):
    """A recipe planned from declared sizes: counts in the millions, long source names."""
    recipe = {
        "name": "pipe", "seed": 0, "tokenizer": {"preset": "tiny"},
        "sources": [{"name": "a_rather_long_source_name_for_web_images", "plugin": "image_folder",
                     "params": {"path": "nowhere/images"}, "category": "unlabelled_images"}],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    sizes = {"sources": {"a_rather_long_source_name_for_web_images": {"records": 1_536_000_000, "records_per_unit": 16_000_000}}}
    (tmp_path / "sizes.yaml").write_text(yaml.safe_dump(sizes))


def test_plan_in_a_pipe_prints_whole_numbers_and_names(tmp_path):
    _big_recipe(tmp_path)
    res = uvd("plan", "r.yaml", "--sizes", "sizes.yaml", cwd=tmp_path)
    out = res.stdout
    assert "1,536,000,000" in out  # records, unbroken
    assert "393,216,000,000" in out  # tokens: 1,536,000,000 images x 256
    assert "a_rather_long_source_name_for_web_images" in out
    assert "…" not in out
    rows = [line for line in out.splitlines() if "a_rather_long_source_name_for_web_images" in line]
    assert rows and all("1,536,000,000" in line for line in rows)  # one row = one line


def test_plan_json_on_stdout_replaces_the_tables(tmp_path):
    _big_recipe(tmp_path)
    res = uvd("plan", "r.yaml", "--sizes", "sizes.yaml", "--json", "-", cwd=tmp_path)
    plan = json.loads(res.stdout)  # nothing but JSON on stdout
    assert plan["totals"]["records"] == 1_536_000_000
    assert plan["totals"]["tokens"] == 1_536_000_000 * 256
    assert [r["key"] for r in plan["by"]["source"]] == ["a_rather_long_source_name_for_web_images"]


def test_plugins_list_in_a_pipe_keeps_every_target_on_its_row(tmp_path):
    res = uvd("plugins", "list", cwd=tmp_path)
    lines = res.stdout.splitlines()
    for target in ("uvd_pipeline.sources.annotated_video:VipsegVideoSource", "uvd_pipeline.estimators.onnx_map:OnnxMapEstimator"):
        row = [line for line in lines if target in line]
        assert len(row) == 1, f"{target} not on one line:\n{res.stdout}"
    listed = json.loads(uvd("plugins", "list", "--json", "-", cwd=tmp_path).stdout)
    names = {(p["kind"], p["name"]) for p in listed}
    assert ("source", "coco") in names and ("sequencer", "pairs") in names
    assert all(set(p) >= {"kind", "name", "target", "distribution", "version", "error"} for p in listed)
    # each listed plugin's row is one line of the table
    for p in listed:
        assert sum(p["target"] in line for line in lines) == 1


def test_the_console_is_wide_only_off_a_terminal(tmp_path):
    with open(tmp_path / "out.txt", "w") as f:
        console = PipeSafeConsole(file=f)
        assert not console.is_terminal and console.width == PIPE_WIDTH
        console.print("word " * 100)
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 1
    forced = PipeSafeConsole(file=open(os.devnull, "w"), force_terminal=True, width=80)
    assert forced.width == 80


def four_images(folder):
    """Four small PNGs: enough for a dataset, quick to tokenize."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_run_and_audit_in_a_pipe(tmp_path):
    """`uvd run --json -` and `uvd audit --json -` print only JSON; the audit's tables in a pipe keep
    each source on one row."""
    recipe = {
        "name": "pipe", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [{"name": "a_rather_long_source_name_for_web_images", "plugin": "image_folder",
                     "params": {"path": str(four_images(tmp_path / "imgs"))}, "category": "unlabelled_images"}],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    run = json.loads(uvd("run", "r.yaml", "--out", "out", "--engine", "local", "--json", "-", cwd=tmp_path).stdout)
    assert run["units"]["committed"] == run["units"]["planned"] >= 1
    assert run["totals"]["sequences"] > 0 and run["by"]["source"]["a_rather_long_source_name_for_web_images"]["sequences"] > 0
    report = json.loads(uvd("audit", "out", "--json", "-", cwd=tmp_path).stdout)
    assert report["totals"]["sequences"] == run["totals"]["sequences"]
    table = uvd("audit", "out", cwd=tmp_path).stdout
    assert "…" not in table
    assert any("a_rather_long_source_name_for_web_images" in line and f"{run['totals']['tokens']:,}" in line
               for line in table.splitlines())
