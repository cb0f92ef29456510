"""Integrity: `uvd verify` reports any flipped byte in any committed file (token shards, manifests,
rejects, ledger entries, dataset.json), at seeded random positions with random bit masks; and a
file being written is never visible under its final name, even when the writer is SIGKILLed."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.manifests.store import OutputStore
from uvd_pipeline.recipe import parse_recipe

from .conftest import uvd_command

FLIPS_PER_FILE = 40  # seeded positions per file (whole files are small: every kind is covered)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A real output: 2 units of images with rejects, through the local engine."""
    from uvd_pipeline.samples.pictures import picture
    import numpy as np

    root = tmp_path_factory.mktemp("integrity")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        picture(rng, 48, 32).save(images / f"{i}.jpg")
    (images / "bad.png").write_bytes(b"not a png")
    recipe = {"name": "integrity", "tokenizer": {"preset": "tiny", "batch_size": 8},
              "sources": [{"name": "img", "plugin": "image_folder", "params": {"path": str(images), "unit_size": 4},
                           "category": "unlabelled_images"}]}
    out = root / "out"
    assert run_recipe(parse_recipe(recipe), str(out), engine="local", quiet=True).failures == []
    assert verify_dataset(str(out)) == []
    return out


def _committed_files(out: Path) -> dict[str, list[Path]]:
    ds = open_dataset(str(out))
    files: dict[str, list[Path]] = {"ledger": sorted((out / "ledger").glob("*.json")), "dataset.json": [out / "dataset.json"]}
    for kind in ("shard", "manifest", "rejects"):
        files[kind] = [out / e["files"][kind]["path"] for e in ds.ledger]
    return files


@pytest.mark.parametrize("kind", ["shard", "manifest", "rejects", "ledger", "dataset.json"])
def test_verify_reports_every_flipped_byte(dataset, kind):
    rng = random.Random(f"flip/{kind}")
    paths = _committed_files(dataset)[kind]
    assert paths
    tried = 0
    for path in paths:
        original = path.read_bytes()
        positions = rng.sample(range(len(original)), min(FLIPS_PER_FILE, len(original)))
        try:
            for pos in positions:
                data = bytearray(original)
                data[pos] ^= rng.randrange(1, 256)
                path.write_bytes(bytes(data))
                problems = verify_dataset(str(dataset))
                assert problems, f"{path.name}: byte {pos} flipped ({original[pos]:#04x} -> {data[pos]:#04x}) went unseen"
                assert any(path.name in p or kind in p for p in problems), problems
                tried += 1
        finally:
            path.write_bytes(original)
    assert tried >= FLIPS_PER_FILE and verify_dataset(str(dataset)) == []


def test_verify_reports_whitespace_edits_of_json_files(dataset):
    """The same JSON value with other whitespace is still an altered file."""
    for path in (_committed_files(dataset)["ledger"][0], dataset / "dataset.json"):
        original = path.read_text()
        try:
            path.write_text(original.replace('\n "', '\n\t"', 1))
            assert any("written form" in p for p in verify_dataset(str(dataset)))
        finally:
            path.write_text(original)


def test_uvd_verify_exits_1_on_flipped_bytes(dataset):
    files = _committed_files(dataset)
    for kind in ("shard", "ledger", "dataset.json"):
        path = files[kind][0]
        original = path.read_bytes()
        try:
            data = bytearray(original)
            data[len(data) // 3] ^= 0x20
            path.write_bytes(bytes(data))
            proc = subprocess.run(uvd_command("verify", str(dataset)), capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "COLUMNS": "400"})
            assert proc.returncode == 1 and "problem" in proc.stderr and path.name in proc.stderr, (kind, proc.stderr)
        finally:
            path.write_bytes(original)


WRITER = textwrap.dedent("""
    import hashlib, sys, numpy as np
    from uvd_pipeline.manifests.store import OutputStore, content_name
    store = OutputStore(sys.argv[1])
    store.makedirs("shards")
    rng = np.random.default_rng(int(sys.argv[2]))
    for i in range(10_000):
        data = rng.bytes(4 << 20)
        name, _ = content_name(f"u{i:05d}", data, ".npy")
        store.write_bytes(f"shards/{name}", data)
""")


def test_a_shard_killed_mid_write_is_never_visible(tmp_path):
    """A writer streams 4 MiB shards (temporary name, fsync, rename) and is SIGKILLed at seeded
    random moments: every file under its final name is whole (its content matches the hash in its
    name), and the listing readers use shows no temporary file."""
    caught_mid_write = 0
    for trial in range(3):
        root = tmp_path / f"out{trial}"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(trial)], start_new_session=True)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and not (root / "shards").exists():
                time.sleep(0.02)
            time.sleep(random.Random(trial).uniform(0.3, 2.0))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        files = sorted((root / "shards").iterdir())
        final = [p for p in files if ".tmp-" not in p.name]
        caught_mid_write += len(files) > len(final)
        assert final, "nothing was written before the kill"
        for p in final:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            assert p.stem.endswith(digest) and p.stat().st_size == 4 << 20, f"{p.name} is half-written"
        assert OutputStore(str(root)).list("shards") == [p.name for p in final]
    assert caught_mid_write, "no kill fell inside a write; the test proved nothing"


def test_orphans_of_a_killed_commit_are_invisible(dataset, tmp_path):
    """Data files of a unit whose ledger entry was never written (a kill between the two) change
    nothing a reader sees: not the manifest, the digest, the rejects or verify."""
    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    before = dataset_digest(open_dataset(str(out))), open_dataset(str(out)).rejects().num_rows
    for sub, name in (("shards", "img-000009-0123456789abcdef.npy"), ("manifests", "img-000009-0123456789abcdef.arrow"),
                      ("rejects", "img-000009-0123456789abcdef.arrow"), ("ledger", "img-000009.json.tmp-1234")):
        (out / sub / name).write_bytes(b"half a file")
    ds = open_dataset(str(out))
    assert (dataset_digest(ds), ds.rejects().num_rows) == before
    assert verify_dataset(str(out)) == []
