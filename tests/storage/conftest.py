"""A real S3 API on loopback: moto's standalone server, started as a subprocess on a free port.

The AWS variables point every client at it the way a user points uvd at any S3-compatible store
(MinIO, Ceph, R2, ...): `AWS_ENDPOINT_URL` (read by botocore, hence by s3fs) plus the usual
credentials. Child processes (`python -m uvd_pipeline run ...`) inherit them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from ..tiny_world import make_tiny_world  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, endpoint: str, log: Path, proc: subprocess.Popen) -> None:
        self.endpoint, self.log, self.proc = endpoint, log, proc

    def requests(self) -> list[str]:
        """The server's access log lines ('"PUT /bucket/key HTTP/1.1" 200'), oldest first."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))  # werkzeug colours its log
        return [line for line in text.splitlines() if re.search(r'"[A-Z]+ \S+ HTTP/1\.1"', line)]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink, stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield MotoServer(endpoint, log, proc)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def s3(s3_server):
    """An s3fs filesystem on the loopback server, with a bucket for the tests."""
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.mkdir("uvd-tests")
    return fs


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """A small world in the real formats: 8 images (+2 bad files) in a folder, 2 webdataset tars of 4."""
    return make_tiny_world(tmp_path_factory.mktemp("tiny_world"))


def tiny_recipe(world: str, unit_size: int = 4, **extra) -> dict:
    """The world's two sources under `world` (a local path or an s3:// URL)."""
    data = {
        "name": "storage_test",
        "seed": 0,
        "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [
            {"name": "web_images", "plugin": "image_folder", "category": "unlabelled_images",
             "params": {"path": f"{world}/images", "unit_size": unit_size}},
            {"name": "laion", "plugin": "webdataset", "category": "unlabelled_images",
             "params": {"path": f"{world}/webdataset"}},
        ],
    }
    data.update(extra)
    return data
