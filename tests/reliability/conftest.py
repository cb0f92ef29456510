"""Shared pieces of the reliability tests: a Ray head node of their own, and `uvd` as a user runs it."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")


def uvd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvd_pipeline", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], int]]:
    """A Ray head node started (and ended) by this fixture alone, in its own process group, so that
    ending it touches no other Ray on the machine. Yields (address, environment a driver needs:
    token authentication with this session's own token, nothing read from ~/.ray; the head's pid,
    under which its workers run)."""
    if not RAY.exists():
        pytest.skip("ray is not installed (extra `ray`)")
    port = _free_port()
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    temp_dir = tmp_path_factory.mktemp("ray")
    log_path = temp_dir / "ray-start.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(RAY), "start", "--head", "--block", "--num-cpus", "2", "--port", str(port),
             "--node-ip-address", "127.0.0.1", "--include-dashboard=false", "--disable-usage-stats",
             "--object-store-memory", str(200 * 2**20), "--temp-dir", str(temp_dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env},
            preexec_fn=die_with_parent,
        )
    try:
        deadline = time.time() + 120
        while "Ray runtime started" not in log_path.read_text():
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()
            time.sleep(0.3)
        yield f"127.0.0.1:{port}", env, proc.pid
    finally:
        stop_group(proc)


def die_with_parent() -> None:
    """In a child before exec (Linux): SIGTERM when the test process dies, even by SIGKILL, so a
    killed test session leaves no Ray head behind (`ray start --block` then stops what it started)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the process group this test started (proc leads it); then any of its
    descendants that left the group (Ray puts workers in sessions of their own), by pid."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    kill_survivors(descendants)


def kill_survivors(processes: list, grace: float = 3.0) -> None:
    """SIGKILL those of `processes` (psutil.Process, started by this test) still alive after grace."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
