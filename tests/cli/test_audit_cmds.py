"""`uvd audit` (terminal, --html, --json, --strict) and `uvd preview` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from tests.audit.worlds import build_once, make_images, recipe_dict, source


def uvd(*args, check=True):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, check=check, env=env)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit_cli")
    return make_images(root / "img", 6, seed=41), make_images(root / "vid", 6, seed=42)


def composition(world, enforce: bool) -> dict:
    return recipe_dict(
        [source("img", world[0]), source("vid", world[1], category="unlabelled_videos")],
        targets={"shares": {"unlabelled_images": 0.75, "unlabelled_videos": 0.25}, "enforce": enforce},
    )


def test_strict_fails_on_a_drifted_recipe_and_passes_once_enforced(world, tmp_path_factory, tmp_path):
    drifted = build_once(tmp_path_factory, "drifted", composition(world, enforce=False))
    res = uvd("audit", str(drifted), "--strict", check=False)
    assert res.returncode == 1
    assert "out of tolerance" in res.stderr and "unlabelled_videos" in res.stderr and "50.0000%" in res.stderr
    assert "OUT" in res.stdout and "targets: recipe" in res.stdout
    assert uvd("audit", str(drifted)).returncode == 0  # without --strict the report is all

    enforced = build_once(tmp_path_factory, "enforced", composition(world, enforce=True))
    res = uvd("audit", str(enforced), "--strict", "--json", str(tmp_path / "a.json"))
    report = json.loads((tmp_path / "a.json").read_text())
    cats = {r["key"]: r for r in report["by"]["category"]}
    assert (cats["unlabelled_images"]["sequences"], cats["unlabelled_videos"]["sequences"]) == (6, 2)
    assert report["out_of_tolerance"] == [] and report["rejects_by_reason"] == {"over_quota": 4}
    res = uvd("audit", str(enforced), "--strict", "--targets", "uvdv1", check=False)
    assert res.returncode == 1 and "annotated_images" in res.stderr
    res = uvd("audit", str(enforced), "--strict", "--targets", "uvdv1", "--tolerance", "6")
    assert res.returncode == 0  # 25 % video tokens vs UVDv1's 4.2 %: within 6x the target


def test_html_preview_and_psnr(world, tmp_path_factory, tmp_path):
    out = build_once(tmp_path_factory, "drifted", composition(world, enforce=False))
    res = uvd("preview", str(out), "--sample", "--per-task", "1")
    assert "kept 1 raw sequences" in res.stdout
    page = tmp_path / "report.html"
    res = uvd("audit", str(out), "--html", str(page), "--psnr")
    assert "PSNR dB" in res.stdout and page.exists()
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("data:image/png;base64,") == 3
    assert "decoded PSNR" in text
    sid = json.loads((out / "previews" / "index.json").read_text())["sequences"][0]["sequence_id"]
    res = uvd("preview", str(out), sid, "--out", str(tmp_path / "p.png"))
    assert "under their raw images" in res.stdout and "PSNR" in res.stdout
    assert Image.open(tmp_path / "p.png").size == (256, 256 + 16 + 256)
    res = uvd("preview", str(out), "0" * 32, "--out", str(tmp_path / "x.png"), check=False)
    assert res.returncode == 2 and "no sequence" in res.stderr
    res = uvd("audit", str(tmp_path), check=False)
    assert res.returncode == 2 and "not a uvd output directory" in res.stderr
