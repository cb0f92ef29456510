"""The output lease on an object store (the loopback S3 server): a conditional create, a second
writer refused, and a stale lease taken over by exactly one of two contenders (If-Match)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from uvd_pipeline.engines.lease import LEASE_FILE, LeaseHeld, OutputLease
from uvd_pipeline.manifests.store import OutputStore


def test_one_writer_on_s3(s3, s3_server):
    url = "s3://uvd-tests/lease-one"
    first = OutputLease(OutputStore(url), interval=0.2)
    first.acquire()
    try:
        lease = json.loads(s3.cat_file(f"uvd-tests/lease-one/{LEASE_FILE}"))
        assert lease["owner"] == first.token
        with pytest.raises(LeaseHeld, match="another `uvd run` is writing this output"):
            OutputLease(OutputStore(url), interval=0.2).acquire()
        # the race a read-then-create leaves open is closed by the store: a conditional create fails
        late = OutputLease(OutputStore(url))
        assert late._write(late._record(), create=True) is False
        assert json.loads(s3.cat_file(f"uvd-tests/lease-one/{LEASE_FILE}"))["owner"] == first.token
        time.sleep(0.5)  # heartbeats are conditional overwrites of the version last read
        assert json.loads(s3.cat_file(f"uvd-tests/lease-one/{LEASE_FILE}"))["heartbeat"] > lease["heartbeat"]
        assert first.lost is None
    finally:
        first.release()
    assert not s3.exists(f"uvd-tests/lease-one/{LEASE_FILE}")
    puts = [r for r in s3_server.requests() if f"PUT /uvd-tests/lease-one/{LEASE_FILE}" in r]
    assert any('" 412' in r for r in puts)  # the refused conditional create
    assert sum('" 200' in r for r in puts) >= 3  # the create and at least two heartbeats


def test_a_stale_lease_on_s3_goes_to_exactly_one_of_two_contenders(s3):
    url = "s3://uvd-tests/lease-race"
    stale = {"owner": "gone", "host": "elsewhere", "boot_id": "b", "pid": 1, "interval": 0.1,
             "heartbeat": time.time() - 60, "note": "x"}
    for trial in range(5):
        s3.pipe_file(f"uvd-tests/lease-race/{LEASE_FILE}", json.dumps(stale).encode())
        leases = [OutputLease(OutputStore(url), interval=30) for _ in range(2)]
        won, refused = [], []
        start = threading.Barrier(2)

        def take(lease):
            start.wait()
            try:
                lease.acquire()
                won.append(lease)
            except LeaseHeld as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(refused) == 1, (trial, refused)
        assert json.loads(s3.cat_file(f"uvd-tests/lease-race/{LEASE_FILE}"))["owner"] == won[0].token
        won[0].release()
