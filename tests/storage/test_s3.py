"""Sources read from, and output written to, a real S3 API (moto's server on loopback): the same
digest as a local run, exactly-once commits without renames, a SIGKILLed run that resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import load_recipe, parse_recipe

from .conftest import tiny_recipe

BUCKET = "uvd-tests"


def _uvd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvd_pipeline", *args]


@pytest.fixture(scope="module")
def local_reference(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("local_ref")
    summary = run_recipe(parse_recipe(tiny_recipe(str(tiny_world), unit_size=1)), str(out), engine="local", quiet=True)
    assert summary.failures == [] and summary.planned == 12  # 10 image files (2 bad) + 2 tars
    return out, dataset_digest(open_dataset(str(out)))


@pytest.fixture(scope="module")
def s3_world(s3, tiny_world) -> str:
    s3.put(str(tiny_world) + "/", f"{BUCKET}/world/", recursive=True)
    assert s3.find(f"{BUCKET}/world/webdataset") == [f"{BUCKET}/world/webdataset/00000.tar", f"{BUCKET}/world/webdataset/00001.tar"]
    return f"s3://{BUCKET}/world"


def _put_recipe(s3, key: str, data: dict) -> str:
    s3.pipe_file(f"{BUCKET}/{key}", yaml.safe_dump(data).encode())
    return f"s3://{BUCKET}/{key}"


def _ledger(s3, out_key: str) -> list[str]:
    s3.invalidate_cache(f"{BUCKET}/{out_key}/ledger")
    try:
        return sorted(p for p in s3.ls(f"{BUCKET}/{out_key}/ledger", detail=False) if p.endswith(".json"))
    except FileNotFoundError:
        return []


@pytest.fixture(scope="module")
def s3_run(s3, s3_world):
    """The recipe read from S3, its sources on S3, its output written to S3 by the local engine."""
    recipe_url = _put_recipe(s3, "recipes/run.yaml", tiny_recipe(s3_world, unit_size=1))
    out = f"s3://{BUCKET}/out/run"
    summary = run_recipe(load_recipe(recipe_url), out, engine="local", quiet=True)
    return out, summary


def test_run_reading_and_writing_s3_gives_the_local_digest(s3, s3_server, s3_run, local_reference):
    out, summary = s3_run
    assert summary.failures == [] and summary.committed == summary.planned == 12
    assert dataset_digest(open_dataset(out)) == local_reference[1]
    assert verify_dataset(out) == []
    ds = open_dataset(out)
    assert ds.summary()["complete"] and ds.summary()["totals"]["records_rejected"] == 2
    # nothing was written under a temporary name, nothing was renamed (copied) on the store
    keys = s3.find(f"{BUCKET}/out/run")
    assert not [k for k in keys if ".tmp" in k]
    assert not [r for r in s3_server.requests() if "x-amz-copy-source" in r or "uploads" in r]

    # the commit point: one PUT per ledger entry, after the unit's three data files
    log = [re.search(r'"(\w+) (\S+) HTTP', r).groups() for r in s3_server.requests()]
    for entry in ds.ledger:
        key = f"/{BUCKET}/out/run/ledger/{entry['unit']}.json"
        puts = [i for i, (verb, path) in enumerate(log) if verb == "PUT" and path == key]
        assert len(puts) == 1, (key, puts)
        for info in entry["files"].values():
            data_puts = [i for i, (verb, path) in enumerate(log) if verb == "PUT" and path == f"/{BUCKET}/out/run/{info['path']}"]
            assert data_puts and max(data_puts) < puts[0]


def test_uvd_verify_and_digest_commands_on_s3(s3, s3_run, local_reference):
    out, _ = s3_run
    verified = subprocess.run(_uvd("verify", out), capture_output=True, text=True)
    assert verified.returncode == 0 and "12 committed units verified" in verified.stdout
    digest = subprocess.run(_uvd("digest", out), capture_output=True, text=True, check=True)
    assert digest.stdout.strip() == local_reference[1]

    # an altered committed object is caught: exit 1 and the file named
    s3.copy(f"{BUCKET}/out/run/", f"{BUCKET}/out/altered/", recursive=True)
    entry = json.loads(s3.cat(f"{BUCKET}/out/altered/ledger/web_images-000000.json"))
    s3.pipe_file(f"{BUCKET}/out/altered/{entry['files']['shard']['path']}", b"not the shard")
    broken = subprocess.run(_uvd("verify", f"s3://{BUCKET}/out/altered"), capture_output=True, text=True)
    assert broken.returncode == 1 and "does not match its sha256" in broken.stderr


def test_orphan_objects_of_an_uncommitted_unit_are_never_read(s3, s3_run, local_reference):
    """What a crash between the data PUTs and the ledger PUT leaves: objects no ledger names."""
    out, _ = s3_run
    s3.copy(f"{BUCKET}/out/run/", f"{BUCKET}/out/orphans/", recursive=True)
    out = f"s3://{BUCKET}/out/orphans"
    s3.pipe_file(f"{BUCKET}/out/orphans/shards/web_images-000000-deadbeefdeadbeef.npy", b"\x93NUMPY half a shard")
    s3.pipe_file(f"{BUCKET}/out/orphans/manifests/web_images-000000-deadbeefdeadbeef.arrow", b"ARROW1 half")
    assert verify_dataset(out) == []
    assert dataset_digest(open_dataset(out)) == local_reference[1]


def test_sigkill_mid_run_on_s3_then_rerun_gives_the_local_digest(s3, s3_world, local_reference):
    recipe_url = _put_recipe(s3, "recipes/killed.yaml", tiny_recipe(s3_world, unit_size=1))
    out_key = "out/killed"
    cmd = _uvd("run", recipe_url, "--out", f"s3://{BUCKET}/{out_key}", "--engine", "local", "-q")
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and len(_ledger(s3, out_key)) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = _ledger(s3, out_key)
    assert 2 <= len(committed) < 12
    out = f"s3://{BUCKET}/{out_key}"
    assert verify_dataset(out) == []  # every committed unit is whole; nothing half-visible
    assert len(open_dataset(out).ledger) == len(committed)

    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert len(_ledger(s3, out_key)) == 12
    assert dataset_digest(open_dataset(out)) == local_reference[1]
    assert verify_dataset(out) == []


def test_tokenizer_checkpoint_read_from_s3(s3, s3_world, tiny_world, tmp_path, monkeypatch):
    """A checkpoint folder on S3 is copied to the local cache once and gives the same tokens."""
    from uvd_pipeline.tokenizer import VQGAN

    monkeypatch.setenv("UVD_CACHE_DIR", str(tmp_path / "cache"))
    ckpt = tmp_path / "ckpt"
    VQGAN.random("tiny", seed=5).save_pretrained(str(ckpt))
    s3.put(str(ckpt) + "/", f"{BUCKET}/ckpt/", recursive=True)

    def recipe(world: str, checkpoint: str) -> dict:
        data = tiny_recipe(world, tokenizer={"checkpoint": checkpoint, "batch_size": 8})
        data["sources"] = data["sources"][1:]  # the webdataset source alone is enough here
        return data

    local = run_recipe(parse_recipe(recipe(str(tiny_world), str(ckpt))), str(tmp_path / "local"), engine="local", quiet=True)
    remote_out = f"s3://{BUCKET}/out/ckpt"
    remote = run_recipe(parse_recipe(recipe(s3_world, f"s3://{BUCKET}/ckpt")), remote_out, engine="local", quiet=True)
    assert local.failures == remote.failures == []
    assert remote.dataset["tokenizer"]["sha256"] == local.dataset["tokenizer"]["sha256"]
    assert dataset_digest(open_dataset(remote_out)) == dataset_digest(open_dataset(str(tmp_path / "local")))
    cached = os.listdir(tmp_path / "cache" / "checkpoints")
    assert len(cached) == 1 and sorted(os.listdir(tmp_path / "cache" / "checkpoints" / cached[0])) == ["config.json", "pytorch_model.bin"]


def test_endpoint_from_fsspec_config_instead_of_aws_endpoint_url(s3, s3_server, s3_run):
    """The other documented way to name an S3-compatible endpoint: fsspec's FSSPEC_S3_ENDPOINT_URL."""
    out, _ = s3_run
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env["FSSPEC_S3_ENDPOINT_URL"] = s3_server.endpoint
    res = subprocess.run(_uvd("verify", out), capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "12 committed units verified" in res.stdout
