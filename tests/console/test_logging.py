"""Operator comfort: `--log-format json` (every stderr line a JSON object), progress events with
rates and ETA, `--quiet`, the summary tables, and the exit codes the README documents."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from uvd_pipeline.cli import app
from uvd_pipeline.engines.progress import RunProgress
from uvd_pipeline.console.logs import JsonFormatter, configure_logging, event, get_logger, reset_logging


@pytest.fixture(autouse=True)
def _clean_logging():
    yield
    reset_logging()


@pytest.fixture(scope="module")
def recipe_path(tmp_path_factory) -> Path:
    """6 good images and 2 bad files in units of 2: 4 units."""
    from uvd_pipeline.samples.world import make_images

    root = tmp_path_factory.mktemp("logging_world")
    make_images(root, np.random.default_rng(0), n=6)
    path = root / "r.yaml"
    path.write_text(yaml.safe_dump({
        "name": "logs", "tokenizer": {"preset": "tiny"},
        "sources": [{"name": "imgs", "plugin": "image_folder", "category": "unlabelled_images",
                     "params": {"path": str(root / "images"), "unit_size": 2}}],
    }))
    return path


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # raises if any stderr line is not JSON


def test_json_logs_of_a_run(recipe_path, tmp_path):
    out = tmp_path / "out"
    res = _invoke("--log-format", "json", "--progress-every", "0.001", "run", str(recipe_path), "--out", str(out), "--engine", "local")
    assert res.exit_code == 0, res.output
    records = _json_lines(res.stderr)
    events = [r["event"] for r in records]
    assert events[0] == "run_started" and "run_finished" in events
    assert all({"ts", "level", "logger", "message", "event"} <= r.keys() for r in records)
    started = records[0]
    assert started["units_planned"] == started["units_pending"] == 4 and started["engine"] == "local"

    progress = [r for r in records if r["event"] == "progress"]
    assert len(progress) >= 4 and progress[-1]["final"] is True
    last = progress[-1]["stages"]
    assert last["commit"] == {"done": 4, "total": 4, "unit": "units", "rate_per_s": last["commit"]["rate_per_s"]}
    assert last["tokenize"]["done"] == 6 and last["tokenize"]["rate_per_s"] > 0
    assert any(r["eta_s"] is not None and r["eta_s"] > 0 for r in progress[:-1])  # an ETA while work remains
    done = [r["stages"]["commit"]["done"] for r in progress]
    assert done == sorted(done)

    finished = next(r for r in records if r["event"] == "run_finished")
    summary = json.loads((out / "dataset.json").read_text())
    assert finished["totals"] == summary["totals"] and finished["failures"] == [] and finished["complete"] is True
    assert any(r["event"] == "random_weights" and r["level"] == "warning" for r in records)
    # the summary tables go to stdout, apart from the logs
    assert "units planned" in res.stdout and "unlabelled_images" in res.stdout and "rejected 2" in res.stdout


def test_quiet_prints_results_and_warnings_only(recipe_path, tmp_path):
    res = _invoke("--quiet", "run", str(recipe_path), "--out", str(tmp_path / "out"), "--engine", "local")
    assert res.exit_code == 0
    assert "randomly initialised" in res.stderr  # a warning still shows
    assert "run logs:" not in res.stderr and "committed" not in res.stderr  # no info logs, no progress
    assert "units planned" in res.stdout


def test_text_progress_lines_without_a_terminal(recipe_path, tmp_path):
    """stderr is not a terminal here (as under nohup or a batch system): progress comes as log lines."""
    res = _invoke("--progress-every", "0.001", "run", str(recipe_path), "--out", str(tmp_path / "out"), "--engine", "local")
    assert res.exit_code == 0
    lines = res.stderr.splitlines()
    assert any(" info    run logs: 4 of 4 units to build on local" in line for line in lines)
    assert any("done: built 4/4 units" in line and "committed 4/4 units" in line for line in lines)
    assert any("eta" in line for line in lines)


def test_usage_errors_exit_2_as_json(tmp_path):
    res = _invoke("--log-format", "json", "run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o"))
    # in-process the UvdError surfaces as the exception that `uvd`'s main() turns into exit 2
    from uvd_pipeline.errors import RecipeError

    assert isinstance(res.exception, RecipeError)
    bad = _invoke("--log-format", "yaml", "digest", str(tmp_path))
    assert bad.exit_code == 2 and "--log-format 'yaml'" in bad.stderr


def test_verify_problems_are_json_events_and_exit_1(recipe_path, tmp_path):
    out = tmp_path / "out"
    assert _invoke("-q", "run", str(recipe_path), "--out", str(out), "--engine", "local").exit_code == 0
    shard = sorted((out / "shards").iterdir())[0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x00")
    res = _invoke("--log-format", "json", "verify", str(out))
    assert res.exit_code == 1
    records = _json_lines(res.stderr)
    problems = [r for r in records if r["event"] == "verify_problem"]
    assert problems and shard.name in problems[0]["problem"] and problems[0]["level"] == "error"


def test_digest_verify_and_export_report_progress_per_unit_as_json(recipe_path, tmp_path):
    """The commands that walk a whole dataset say how far they are: `progress` events with the
    units done, the total and, while work remains, an ETA; the final one says done."""
    out = tmp_path / "out"
    assert _invoke("-q", "run", str(recipe_path), "--out", str(out), "--engine", "local").exit_code == 0
    units = len(list((out / "ledger").glob("*.json")))
    for args in (["digest", str(out)], ["verify", str(out)],
                 ["export", str(out), "--format", "lvm-jsonl", "--out", str(tmp_path / "x.jsonl")]):
        res = _invoke("--log-format", "json", "--progress-every", "0.000001", *args)
        assert res.exit_code == 0, res.output
        progress = [r for r in _json_lines(res.stderr) if r["event"] == "progress"]
        assert progress and progress[-1]["final"] is True, (args, res.stderr)
        assert progress[-1]["done"] == progress[-1]["total"] == units and progress[-1]["command"] == args[0]
        assert [r["done"] for r in progress] == sorted(r["done"] for r in progress)
    quiet = _invoke("-q", "--log-format", "json", "digest", str(out))
    assert quiet.exit_code == 0 and not [r for r in _json_lines(quiet.stderr) if r["event"] == "progress"]


def test_missing_recipe_is_a_json_error_line_with_exit_2(tmp_path):
    """Through `uvd`'s real entry point: the error is a JSON line and the exit code 2."""
    res = subprocess.run(
        [sys.executable, "-m", "uvd_pipeline", "--log-format", "json", "run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True,
    )
    assert res.returncode == 2
    (record,) = _json_lines(res.stderr)
    assert record["event"] == "error" and record["exit_code"] == 2 and "nope.yaml" in record["message"]


def test_ctrl_c_exits_130_and_the_rerun_resumes(recipe_path, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "uvd_pipeline", "-q", "run", str(recipe_path), "--out", str(out), "--engine", "local"]
    # A shell that starts jobs in the background (`cmd &`, nohup) leaves SIGINT ignored, and an
    # ignored SIGINT stays ignored in children; give the run the disposition a terminal gives it.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _committed(out):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    committed = len(list((out / "ledger").glob("*.json")))
    assert 1 <= committed < 4
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0 and len(list((out / "ledger").glob("*.json"))) == 4


def test_json_formatter_and_progress_figures():
    import io

    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    event(get_logger("test"), "unit_committed", "unit a done", unit="a-000001", images=3)
    record = json.loads(stream.getvalue())
    assert record["event"] == "unit_committed" and record["unit"] == "a-000001" and record["images"] == 3
    assert record["logger"] == "uvd_pipeline.test" and record["level"] == "info"
    assert JsonFormatter().format(logging.LogRecord("x", logging.ERROR, "f", 1, "boom %s", ("now",), None)).count('"boom now"') == 1

    p = RunProgress(10, every=3600)
    p.start -= 10.0  # ten seconds in
    for _ in range(4):
        p.unit_built()
        p.unit_committed()
    p.images_tokenized(40)
    snap = p.snapshot()
    assert snap["stages"]["commit"]["rate_per_s"] == pytest.approx(0.4, rel=0.05)
    assert snap["stages"]["tokenize"]["rate_per_s"] == pytest.approx(4.0, rel=0.05)
    assert snap["eta_s"] == pytest.approx(15.0, rel=0.05)  # 6 units left at 0.4 units/s


def _committed(out: Path) -> list[Path]:
    return list((out / "ledger").glob("*.json")) if (out / "ledger").exists() else []
