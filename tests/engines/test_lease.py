"""One writer per output: two `uvd run` on one --out (real subprocesses), a stale lease from a
dead process or another host taken over, a live one refused, a lost lease noticed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from uvd_pipeline.engines.lease import LEASE_FILE, LeaseHeld, LeaseLost, OutputLease, _boot_id
from uvd_pipeline.manifests.store import OutputStore

from .stall_plugins import install, stall_recipe, write_images


def _uvd(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "uvd_pipeline", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)


def _wait_for(path, seconds=60):
    deadline = time.time() + seconds
    while not path.exists():
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_uvd_run_on_the_same_out_is_refused_and_a_dead_holder_is_taken_over(tmp_path, monkeypatch):
    env = install(tmp_path, monkeypatch)
    images = write_images(tmp_path / "images", 4)
    out = tmp_path / "out"
    slow = tmp_path / "slow.yaml"  # holds the output: its second unit reads for a minute, the first time
    slow.write_text(yaml.safe_dump(stall_recipe(images, stall_on="img02.png", stall_seconds=60,
                                                once_marker=str(tmp_path / "stalled"))))
    other = tmp_path / "other.yaml"  # a different recipe on the same output
    other.write_text(yaml.safe_dump({**stall_recipe(images), "name": "other", "seed": 7}))
    first = _uvd(["run", str(slow), "--out", str(out), "--engine", "local", "-q"], env)
    try:
        _wait_for(tmp_path / "stalled")
        second = subprocess.run([sys.executable, "-m", "uvd_pipeline", "run", str(other), "--out", str(out),
                                 "--engine", "local", "-q"], env=env, capture_output=True, text=True)
        message = " ".join(second.stderr.split())
        assert second.returncode == 2, second.stderr
        assert "another `uvd run` is writing this output" in message
        assert f"pid {first.pid} on host {socket.gethostname()}" in message
        assert first.poll() is None  # the holder is untouched
        lease = json.loads((out / LEASE_FILE).read_text())
        assert lease["pid"] == first.pid and lease["note"].startswith("recipe stall")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # as a crash or an OOM kill would
        first.wait()
    assert (out / LEASE_FILE).exists()  # a killed holder cannot release: its lease is stale
    # The same command again (the stall is spent) takes the dead holder's lease over and finishes.
    t0 = time.perf_counter()
    rerun = subprocess.run([sys.executable, "-m", "uvd_pipeline", "run", str(slow), "--out", str(out),
                            "--engine", "local", "-q"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"took over a stale lease (its process {first.pid} on this host is gone)" in " ".join(rerun.stderr.split())
    assert not (out / LEASE_FILE).exists()
    assert len(list((out / "ledger").glob("*.json"))) == 2
    print(f"resume after a killed holder: {time.perf_counter() - t0:.1f} s")


def test_stale_lease_rules(tmp_path):
    store = OutputStore(str(tmp_path))
    me = OutputLease(store, interval=0.2)
    here = {"host": socket.gethostname(), "boot_id": _boot_id(), "interval": 0.2}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert "is gone" in me.stale_reason({**here, "owner": "x", "pid": dead.pid, "heartbeat": time.time()})
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exited, not yet reaped (as a killed run's parent may leave it)
    deadline = time.time() + 30
    while "Z" not in open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0]:
        assert time.time() < deadline
        time.sleep(0.05)
    assert "is gone" in me.stale_reason({**here, "owner": "x", "pid": zombie.pid, "heartbeat": time.time()})
    zombie.wait()
    # alive on this host: never stale, however old its heartbeat (it may be stopped, or busy)
    assert me.stale_reason({**here, "owner": "x", "pid": os.getppid(), "heartbeat": 0}) is None
    # a reused pid: the same number, started at another time
    assert "is gone" in me.stale_reason({**here, "owner": "x", "pid": os.getppid(), "pid_started": "1",
                                         "heartbeat": time.time()})
    far = {"host": "elsewhere", "boot_id": "b", "pid": 1, "interval": 0.2, "owner": "x"}
    assert me.stale_reason({**far, "heartbeat": time.time()}) is None
    assert "heartbeat is 2 s old (stale after 1 s)" in me.stale_reason({**far, "heartbeat": time.time() - 2})
    assert me.stale_reason({"garbled": True}) == "it is not a readable lease"


def test_a_lease_from_another_host_is_taken_over_once_its_heartbeat_is_stale(tmp_path):
    store = OutputStore(str(tmp_path))
    foreign = {"owner": "f", "host": "elsewhere", "boot_id": "b", "pid": 1, "interval": 0.1, "note": "x"}
    (tmp_path / LEASE_FILE).write_text(json.dumps({**foreign, "heartbeat": time.time()}))
    with pytest.raises(LeaseHeld, match="pid 1 on host elsewhere"):
        OutputLease(store, interval=0.1).acquire()
    # it stops beating: after stale_after (6) x 0.1 s it is taken over
    t0 = time.perf_counter()
    while True:
        try:
            lease = OutputLease(store, interval=0.1)
            lease.acquire()
            break
        except LeaseHeld:
            time.sleep(0.02)
    detected = time.perf_counter() - t0
    assert 0.4 < detected < 2.0, detected
    assert json.loads((tmp_path / LEASE_FILE).read_text())["owner"] == lease.token
    lease.release()
    assert not (tmp_path / LEASE_FILE).exists()


def test_the_holder_beats_and_notices_when_its_lease_is_taken(tmp_path):
    store = OutputStore(str(tmp_path))
    lease = OutputLease(store, interval=0.05)
    lease.acquire()
    first = json.loads((tmp_path / LEASE_FILE).read_text())["heartbeat"]
    time.sleep(0.3)
    assert json.loads((tmp_path / LEASE_FILE).read_text())["heartbeat"] > first
    with pytest.raises(LeaseHeld):
        OutputLease(store, interval=0.05).acquire()  # same host, live pid
    # someone forces the lease (e.g. an operator, or a host that judged us stale)
    (tmp_path / LEASE_FILE).write_text(json.dumps({"owner": "intruder", "host": "h", "pid": 2, "heartbeat": time.time()}))
    time.sleep(0.3)
    with pytest.raises(LeaseLost, match="lost its lease"):
        lease.check()
    lease.release()
    assert json.loads((tmp_path / LEASE_FILE).read_text())["owner"] == "intruder"  # not ours to remove
