"""Contact sheets without a hidden step: `uvd run` writes the seeded raw previews (previews/ with
index.json) from the pixels it already holds, the same bytes on the local and Beam engines and
without touching the digest; `uvd preview --sample` run from another directory resolves the
recipe's relative paths as the run did and rewrites the same sheets; decoding with a random
tokenizer says so. Stdout is a pipe."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import yaml
from PIL import Image

from uvd_pipeline.exports.previews import sheet_tiles
from uvd_pipeline.manifests import open_dataset


def uvd(*args, cwd):
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", "-q", *args], capture_output=True, text=True, cwd=cwd)


def test_run_writes_previews_that_match_the_manifest_and_every_engine(tmp_path):
    work = tmp_path / "work"
    (work / "imgs").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(work / "imgs" / f"{i}.png")
    recipe = {"name": "pv", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
              "sources": [{"name": "imgs", "plugin": "image_folder", "params": {"path": "imgs", "unit_size": 2},
                           "category": "unlabelled_images"}]}
    (work / "r.yaml").write_text(yaml.safe_dump(recipe))
    for engine in ("local", "beam"):
        res = uvd("run", "r.yaml", "--out", f"out_{engine}", "--engine", engine, cwd=work)
        assert res.returncode == 0, res.stderr

    local, beam = work / "out_local", work / "out_beam"
    index = json.loads((local / "previews" / "index.json").read_text())
    assert index["per_task"] == 4 and len(index["sequences"]) == 4  # 6 single-image sequences, 4 kept
    assert index["paths_relative_to"] == str(work)
    files = sorted(p.name for p in (local / "previews").glob("*.png"))
    assert files == sorted(f"{e['sequence_id']}.png" for e in index["sequences"])  # the losing candidates are gone
    ds = open_dataset(str(local))
    manifest = {r["sequence_id"]: r for r in ds.manifest.to_pylist()}
    for e in index["sequences"]:
        assert manifest[e["sequence_id"]]["unit"] == e["unit"] and e["file"] == f"previews/{e['sequence_id']}.png"
        tiles = sheet_tiles(np.asarray(Image.open(local / e["file"]).convert("RGB")), e["n_images"])
        assert tiles.shape == (1, 256, 256, 3) and tiles.std() > 0
    # the same sheets, byte for byte, from the Beam engine (sheets written in its build step)
    assert json.loads((beam / "previews" / "index.json").read_text()) == index
    for name in files:
        assert (beam / "previews" / name).read_bytes() == (local / "previews" / name).read_bytes()
    digests = {uvd("digest", str(out), cwd=work).stdout.strip() for out in (local, beam)}
    assert len(digests) == 1

    # --sample from elsewhere: the recipe's "imgs" resolves from the run's directory, same bytes
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = {name: (local / "previews" / name).read_bytes() for name in files}
    for name in files:
        (local / "previews" / name).unlink()
    res = uvd("preview", str(local), "--sample", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert "kept 4 raw sequences" in res.stdout and "(0 missing)" in res.stdout
    assert {name: (local / "previews" / name).read_bytes() for name in files} == before

    first = index["sequences"][0]["sequence_id"]
    res = uvd("preview", str(local), first, "--out", str(tmp_path / "sheet.png"), cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert "under their raw images" in res.stdout
    assert "randomly initialised VQGAN (preset 'tiny')" in " ".join(res.stderr.split())
