"""Quiet logs: the package metadata uses the SPDX licence string (no setuptools deprecation
warning), OpenCV's own "[ WARN ...] capture by name" line does not reach stderr when FFmpeg cannot
open a file (the reject row says it), and under `--log-format json` every stderr line is one of
our JSON log objects, library warnings included."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import yaml

from uvd_pipeline.console.logs import configure_logging, reset_logging

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_licence_is_an_spdx_string():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"  # a TOML table is deprecated by setuptools >= 77
    assert not any(c.startswith("License ::") for c in meta["project"].get("classifiers", []))
    assert any(r.replace(" ", "") == "setuptools>=77" for r in meta["build-system"]["requires"])


def test_a_corrupt_video_gives_a_reject_and_no_opencv_line(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "broken.mp4").write_bytes(np.random.default_rng(0).integers(0, 255, 4096, dtype=np.uint8).tobytes())
    recipe = {"name": "v", "seed": 0, "tokenizer": {"preset": "tiny"},
              "sources": [{"name": "clips", "plugin": "video", "params": {"path": "videos"},
                           "category": "unlabelled_videos", "task": "video", "sequencer": {"plugin": "video_clip"}}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "--log-format", "json", "run", "r.yaml", "--out", "out",
                          "--engine", "local", "--json", "-"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "WARN" not in res.stderr and "capture by name" not in res.stderr
    lines = [json.loads(line) for line in res.stderr.splitlines() if line.strip()]  # every line is ours
    flagged = [e for e in lines if e.get("event") == "source_warning"]
    assert flagged and flagged[0]["reasons"] == {"unreadable_video": 1}
    assert json.loads(res.stdout)["totals"]["records_rejected"] == 1


def test_library_warnings_become_our_log_lines():
    buf = io.StringIO()
    try:
        configure_logging("json", stream=buf)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library says something", UserWarning)
        line = json.loads(buf.getvalue().splitlines()[-1])
        assert line["logger"] == "py.warnings" and line["level"] == "warning"
        assert "a library says something" in line["message"]
        # a library logger that stops propagating without a handler (Ray's after ray.init)
        lib = logging.getLogger("uvd_test_library")
        lib.propagate = False
        lib.warning("token authentication is enabled")
        lib.info("chatter below warning stays out")
        line = json.loads(buf.getvalue().splitlines()[-1])
        assert line["logger"] == "uvd_test_library" and line["message"] == "token authentication is enabled"
        assert "chatter" not in buf.getvalue()
    finally:
        reset_logging()
    assert logging.getLogger("py.warnings").propagate
