"""The `uvd` command as a user runs it."""

import subprocess
import sys

from uvd_pipeline.manifests import dataset_digest, open_dataset


def uvd(*args, check=True):
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, check=check)


def test_samples_run_verify_digest(tmp_path, recipe_file):
    out = tmp_path / "out"
    res = uvd("run", str(recipe_file), "--out", str(out), "--engine", "local", "-q")
    assert "randomly initialised" in res.stderr and "tokenizer.checkpoint" in res.stderr
    assert "96" in res.stdout  # sequences in the summary table
    assert "verified" in uvd("verify", str(out)).stdout
    assert uvd("digest", str(out)).stdout.strip() == dataset_digest(open_dataset(str(out)))


def test_verify_fails_with_exit_1_on_corruption(tmp_path, recipe_file):
    out = tmp_path / "out"
    uvd("run", str(recipe_file), "--out", str(out), "--engine", "local", "-q")
    shard = sorted((out / "shards").iterdir())[0]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    res = uvd("verify", str(out), check=False)
    assert res.returncode == 1 and shard.name in res.stderr


def test_invalid_recipe_exits_2_naming_the_field(tmp_path, samples):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: x\n    plugin: image_folder\n    params: {path: .}\n    category: nope\n")
    res = uvd("run", str(bad), "--out", str(tmp_path / "o"), check=False)
    assert res.returncode == 2
    assert "bad.yaml" in res.stderr and "sources[0].category" in res.stderr
    assert not (tmp_path / "o").exists()  # nothing was done


def test_samples_make_and_plugins_list(tmp_path):
    res = uvd("samples", "make", str(tmp_path / "s"))
    assert (tmp_path / "s" / "webdataset" / "00000.tar").exists() and "images" in res.stdout
    assert "image_folder" in uvd("plugins", "list").stdout
