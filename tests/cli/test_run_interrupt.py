"""The end of a run says what happened: Ctrl-C during `uvd run` prints "interrupted: N of M units
committed; rerun the same command to resume" and exits 130, the rerun resumes; `uvd verify` on a
tampered shard names the file and nothing after contradicts it. Stdout and stderr are pipes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import yaml
from PIL import Image

N_UNITS = 12


def command(*args):
    return [sys.executable, "-m", "uvd_pipeline", *args]


def small_recipe(tmp_path):
    (tmp_path / "imgs").mkdir()
    for i in range(N_UNITS):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i:03d}.png")
    recipe = {"name": "ctrl_c", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
              "sources": [{"name": "imgs", "plugin": "image_folder", "params": {"path": "imgs", "unit_size": 1},
                           "category": "unlabelled_images"}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))


def test_ctrl_c_says_what_is_committed_and_the_rerun_resumes_then_verify_names_a_tampered_shard(tmp_path):
    small_recipe(tmp_path)
    run = ["run", "r.yaml", "--out", "out", "--engine", "local"]
    proc = subprocess.Popen(command(*run), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = tmp_path / "out" / "ledger"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.is_dir() and any(p.suffix == ".json" for p in ledger.iterdir()):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    committed = len(list(ledger.glob("*.json")))
    assert 1 <= committed < N_UNITS
    assert f"interrupted: {committed} of {N_UNITS} units committed; rerun the same command to resume" in err
    assert "Traceback" not in err

    again = subprocess.run(command(*run, "--json", "-"), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    units = json.loads(again.stdout)["units"]
    assert units == {"planned": N_UNITS, "skipped": committed, "committed": N_UNITS - committed, "failed": 0}

    ok = subprocess.run(command("verify", "out"), cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and f"{N_UNITS} committed units verified" in ok.stdout
    entry = json.loads((ledger / "imgs-000007.json").read_text())
    shard = tmp_path / "out" / entry["files"]["shard"]["path"]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    bad = subprocess.run(command("verify", "out"), cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1
    problems = [line for line in bad.stderr.splitlines() if line.startswith("✗")]
    assert problems == [f"✗ imgs-000007: shard file {entry['files']['shard']['path']} does not match its sha256"]
    assert bad.stderr.splitlines()[-1] == "1 problem(s) in out"
    assert "totals" not in bad.stderr and "verified" not in bad.stdout + bad.stderr
