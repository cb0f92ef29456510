"""A loopback S3 server for the benchmarks: moto's standalone server as a subprocess, its access
log kept so that the requests a command makes can be counted at the HTTP level."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/1\.[01]"')


class LoopbackS3:
    """`python -m moto.server` on 127.0.0.1; the AWS variables are set in this process's
    environment, so s3fs here and in child processes talks to it."""

    def __init__(self, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = log
        self.endpoint = f"http://127.0.0.1:{port}"
        with open(log, "wb") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                         stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        os.environ.update({"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_EC2_METADATA_DISABLED": "true"})

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request served so far, oldest first."""
        time.sleep(0.3)  # the server logs a request after answering it
        return _REQUEST.findall(self.log.read_text(errors="replace"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def kinds(requests: list[tuple[str, str]]) -> dict[str, int]:
    """Requests by kind: a GET of a bucket with a list query is a LIST (one per 1,000 keys)."""
    counts: Counter[str] = Counter()
    for method, target in requests:
        listing = method == "GET" and ("list-type=" in target or "prefix=" in target or target.rstrip("/").count("/") < 2)
        counts["LIST" if listing else method] += 1
    return dict(sorted(counts.items()))
