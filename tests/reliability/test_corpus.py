"""The bad-input corpus end to end: every kind is handled as corpus.py says (a reject row naming the
record and the reason, or accepted and converted), the run completes on the local engine and on
Ray, nothing is lost (read = used + rejected in every unit, and every record of the corpus is in
the manifest or the rejects table), and bad recipes fail before any work."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.sources.image_folder import read_image_file
from uvd_pipeline.storage import unescape_name

from .conftest import uvd_command
from .corpus import BAD_RECIPES, make_corpus, write_bad_recipe


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    kinds, recipe = make_corpus(root / "data")
    return root, kinds, recipe


@pytest.fixture(scope="module")
def local_out(corpus) -> Path:
    root, _, recipe = corpus
    out = root / "out_local"
    summary = run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True)
    assert summary.failures == [], summary.failures  # no unit fails: bad input is rejected, not raised
    assert summary.committed == summary.planned
    return out


@pytest.fixture(scope="module")
def ray_out(corpus, ray_head) -> Path:
    """The same corpus through `uvd run --engine ray` on a Ray cluster, as a user runs it."""
    import os

    root, _, recipe = corpus
    address, env, _ = ray_head
    path = root / "corpus.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = root / "out_ray"
    proc = subprocess.run(
        uvd_command("run", str(path), "--out", str(out), "--engine", "ray", "--address", address, "--workers", "2", "-q"),
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_the_corpus_has_over_twenty_kinds_across_sources(corpus):
    _, kinds, recipe = corpus
    rejected = [k for k in kinds if k.outcome == "reject"]
    assert len(rejected) >= 20 and len({k.source for k in rejected}) >= 10
    assert {k.source for k in kinds} == {s["name"] for s in recipe["sources"]}
    assert len({k.name for k in kinds}) == len(kinds) and len({(k.source, k.record) for k in kinds}) == len(kinds)


def _handled(out: Path, kinds) -> None:
    ds = open_dataset(str(out))
    rejects = ds.rejects().to_pylist()
    rows = Counter((r["source"], r["record"]) for r in rejects)
    used = {(src, rec) for src, recs in zip(ds.manifest["source"].to_pylist(), ds.manifest["records"].to_pylist())
            for rec in recs}
    for k in kinds:
        key = (k.source, k.record)
        if k.outcome == "reject":
            got = [r for r in rejects if (r["source"], r["record"]) == key]
            assert [r["reason"] for r in got] == [k.reason], f"{k.name}: {got}"
            assert rows[key] == 1 and got[0]["detail"], k.name
            assert key not in used, k.name
        else:
            assert key in used and rows[key] == 0, f"{k.name}: {[r for r in rejects if (r['source'], r['record']) == key]}"
    # Nothing lost, nothing invented: every record is exactly a corpus kind.
    expected = {(k.source, k.record) for k in kinds}
    seen = used | set(rows)
    assert seen == expected, f"not in the corpus: {sorted(seen - expected)}; lost: {sorted(expected - seen)}"


def _accounted(out: Path) -> None:
    ds = open_dataset(str(out))
    assert ds.ledger and verify_dataset(str(out)) == []
    for entry in ds.ledger:
        c = entry["counts"]
        assert c["records_read"] == c["records_used"] + c["records_rejected"], entry["unit"]
    summary = ds.summary()
    assert summary["complete"]
    t = summary["totals"]
    assert t["records_read"] == t["records_used"] + t["records_rejected"]
    assert t["records_rejected"] == len({(r["unit"], r["record"]) for r in ds.rejects().to_pylist()})


def test_local_run_handles_every_kind(local_out, corpus):
    _handled(local_out, corpus[1])
    _accounted(local_out)


def test_ray_run_handles_every_kind_and_equals_local(ray_out, local_out, corpus):
    _handled(ray_out, corpus[1])
    _accounted(ray_out)
    assert dataset_digest(open_dataset(str(ray_out))) == dataset_digest(open_dataset(str(local_out)))
    key = lambda r: (r["unit"], r["record"], r["reason"])  # noqa: E731
    ray_rows = sorted(open_dataset(str(ray_out)).rejects().to_pylist(), key=key)
    local_rows = sorted(open_dataset(str(local_out)).rejects().to_pylist(), key=key)
    assert [key(r) for r in ray_rows] == [key(r) for r in local_rows]


def test_uvd_verify_command_passes_on_the_corpus_output(local_out):
    proc = subprocess.run(uvd_command("verify", str(local_out)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "verified" in proc.stdout, proc.stderr


def test_odd_but_valid_images_decode_as_stated(corpus):
    root, kinds, _ = corpus
    for k in kinds:
        if k.source != "images" or k.outcome != "accept":
            continue
        got = read_image_file(str(root / "data" / "images" / unescape_name(k.record)), k.record)
        assert not hasattr(got, "reason"), (k.name, got)
        px = got.image.pixels
        assert px.dtype == np.uint8 and px.shape == (*k.check.shape, 3), (k.name, px.shape)
        if k.check.at is not None:
            colour = px[k.check.at].astype(int)
            assert np.abs(colour - np.array(k.check.rgb)).max() <= k.check.tol, (k.name, colour)


def test_exif_rotation_follows_the_orientation_tag_when_applied(corpus):
    """Stored 64x32 with red top-left; orientation 6 shows it 32x64 with red top-right, blue
    bottom-left: rotated, not just transposed or left as stored (preprocess.exif: apply)."""
    from uvd_pipeline.images import set_exif_policy

    root = corpus[0] / "data" / "images"
    set_exif_policy("apply")
    try:
        px = read_image_file(str(root / "exif_rotated.jpg"), "exif_rotated.jpg").image.pixels.astype(int)
    finally:
        set_exif_policy("ignore")
    assert px.shape == (64, 32, 3)
    assert px[4, 28, 0] > 180 and px[4, 28, 2] < 80  # top-right: red
    assert px[4, 4, 2] > 180 and px[60, 28, 2] > 180 and px[60, 4, 2] > 180  # the other corners: blue


@pytest.mark.parametrize("name", sorted(BAD_RECIPES))
def test_bad_recipe_fails_before_any_work(corpus, tmp_path, name, monkeypatch, capsys):
    """Exit 2, the message names the recipe file and the field, and no output folder is made."""
    from uvd_pipeline.cli import main

    recipe = write_bad_recipe(corpus[0] / "data", tmp_path, name)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["uvd", "run", str(recipe), "--out", str(out), "--engine", "local", "-q"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    flat = "".join(err.split())  # the terminal wraps long lines
    assert BAD_RECIPES[name][2] in flat and (recipe.name in flat or name.startswith("missing_")), err
    assert not out.exists()
