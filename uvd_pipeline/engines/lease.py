"""One writer per output: `uvd run` holds a lease on its output root (`lease.json`) from before it
reads or writes the resolved recipe until its summary is written, and a second run on the same
output is refused (exit 2) with the holder's owner, host, pid and last heartbeat.

The lease is a small JSON file: a random owner token, host, boot id, pid and process start time,
and a heartbeat the holder rewrites every `interval` seconds. A lease is stale, and the next run
takes it over, when
  - its holder ran on this machine (same host name and boot id) and that process is gone (the
    pid is dead, or now belongs to a process started at another time): detected at once;
  - or its heartbeat is older than `stale_after` intervals (another machine, or a reboot).

Every change is a compare-and-swap, so two runs can never both believe they hold it:
  - local disks (and NFS): the read-decide-write runs under `fcntl.flock` on `lease.json.lock`;
    the kernel drops that lock when its process dies, so a crash never wedges the output;
  - object stores: the first lease is a conditional create (`If-None-Match: *`), a takeover or a
    heartbeat a conditional overwrite of the version read (`If-Match: <ETag>`); S3 (and stores
    speaking its API: MinIO, R2, moto) answer 412 to the loser. On filesystems with no
    conditional write the lease is advisory (a warning says so).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import UvdError
from ..manifests.store import OutputStore

LEASE_FILE = "lease.json"
INTERVAL_ENV = "UVD_LEASE_INTERVAL"  # seconds between heartbeats (tests and slow stores)
DEFAULT_INTERVAL = 10.0
STALE_AFTER = 6  # heartbeats missed before a lease from another machine is taken over
log = logging.getLogger("uvd_pipeline.lease")


class LeaseHeld(UvdError):
    exit_code = 2  # a usage error: this output is in use; nothing was done


class LeaseLost(UvdError):
    exit_code = 1


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # dead, not yet reaped by its parent
    except (OSError, IndexError):
        return False


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    if _zombie(pid):
        return False
    now = _start_time(pid)
    return not (started and now and now != started)


def describe(lease: dict[str, Any]) -> str:
    age = time.time() - float(lease.get("heartbeat", 0))
    return (f"owner {lease.get('owner')} (pid {lease.get('pid')} on host {lease.get('host')}, "
            f"started {lease.get('started_at', '?')}, last heartbeat {age:.0f} s ago)")


class OutputLease:
    def __init__(self, store: OutputStore, *, interval: float | None = None, stale_after: int = STALE_AFTER,
                 note: str = "") -> None:
        self.store = store
        self.rel = LEASE_FILE
        self.interval = float(interval or os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL)
        self.stale_after = stale_after
        self.token = uuid.uuid4().hex
        self.note = note
        self.lost: str | None = None  # why, once another writer took the lease over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._etag: str | None = None

    # -- what a lease says ------------------------------------------------------------------------
    def _record(self) -> dict[str, Any]:
        return {
            "owner": self.token, "host": socket.gethostname(), "boot_id": _boot_id(), "pid": os.getpid(),
            "pid_started": _start_time(os.getpid()), "heartbeat": time.time(), "interval": self.interval,
            "started_at": getattr(self, "_started_at", None) or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": self.note,
        }

    def stale_reason(self, lease: dict[str, Any]) -> str | None:
        """Why `lease` (someone else's) may be taken over, or None while its holder may be alive."""
        same_machine = lease.get("host") == socket.gethostname() and lease.get("boot_id") == _boot_id()
        if same_machine and isinstance(lease.get("pid"), int):
            if not _alive(lease["pid"], str(lease.get("pid_started", ""))):
                return f"its process {lease['pid']} on this host is gone"
            return None  # alive here: it holds the output, however late its heartbeat
        try:
            age = time.time() - float(lease["heartbeat"])
            limit = self.stale_after * float(lease.get("interval") or self.interval)
        except (KeyError, TypeError, ValueError):
            return "it is not a readable lease"
        if age > limit:
            return f"its last heartbeat is {age:.0f} s old (stale after {limit:.0f} s)"
        return None

    # -- the compare-and-swap per filesystem --------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self.store.local:
            yield
            return
        import fcntl

        with open(self.store.path(self.rel + ".lock"), "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any] | None:
        """The current lease (None when there is none); remembers its ETag on object stores."""
        try:
            if self.store.local:
                data = self.store.read_bytes(self.rel)
            else:
                path = self.store.path(self.rel)
                self.store.fs.invalidate_cache(path)
                info = self.store.fs.info(path)
                data = self.store.fs.cat_file(path)
                self._etag = info.get("ETag") or info.get("etag")
        except FileNotFoundError:
            return None
        try:
            lease = json.loads(data)
            return lease if isinstance(lease, dict) else {}
        except ValueError:
            return {}  # garbled: judged stale by its (missing) heartbeat

    def _write(self, record: dict[str, Any], *, create: bool) -> bool:
        """Write `record`; on object stores only if the lease is still absent (`create`) or still
        the version last read. False when another writer got there first."""
        data = json.dumps(record, sort_keys=True).encode("utf-8")
        if self.store.local:  # under the flock
            self.store.write_bytes(self.rel, data)
            return True
        path = self.store.path(self.rel)
        try:
            if create:
                self.store.fs.pipe_file(path, data, mode="create")
            elif self._etag and "s3" in self.store.fs.protocol:
                self.store.fs.pipe_file(path, data, IfMatch=self._etag)
            else:
                self.store.fs.pipe_file(path, data)  # no conditional overwrite here: advisory
        except (FileExistsError, PermissionError) as exc:
            log.debug("lease write lost the race: %s", exc)
            return False
        except OSError as exc:
            # s3fs turns a 412 on If-Match into OSError(EINVAL, "At least one of the pre-conditions ...")
            if "precondition" in str(exc).lower().replace("-", "") or "412" in str(exc):
                return False
            raise
        return True

    # -- the life of a lease ------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lease, or raise LeaseHeld naming the live holder."""
        self._started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._exclusive():
            current = self._read()
            if current is None:
                if self._write(self._record(), create=True):
                    return self._start()
                current = self._read() or {}
            elif current.get("owner") == self.token:
                return self._start()
            why = self.stale_reason(current)
            if why is None:
                raise LeaseHeld(f"{self.store.url}: another `uvd run` is writing this output: {describe(current)}; "
                                f"wait for it to finish, or use another --out")
            if not self._write(self._record(), create=False):
                raise LeaseHeld(f"{self.store.url}: another `uvd run` took over this output's stale lease first: "
                                f"{describe(self._read() or {})}")
            log.warning("%s: took over a stale lease (%s): %s", self.store.url, why, describe(current))
            self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="uvd-lease", daemon=True)
        self._thread.start()

    def heartbeat(self) -> None:
        with self._exclusive():
            current = self._read()
            if not current or current.get("owner") != self.token:
                self.lost = f"another writer holds it now: {describe(current or {})}"
                log.error("%s: lost the lease on this output: %s", self.store.url, self.lost)
                return
            if not self._write(self._record(), create=False):
                self.lost = "another writer replaced it"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval) and self.lost is None:
            try:
                self.heartbeat()
            except Exception as exc:  # a transient store error: retry next interval (stale only after 6)
                log.warning("%s: lease heartbeat failed: %s", self.store.url, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            with self._exclusive():
                current = self._read()
                if current and current.get("owner") == self.token:
                    self.store.remove(self.rel)
        except OSError as exc:  # the next run sees a dead or stale lease and takes it over
            log.warning("%s: could not release the lease: %s", self.store.url, exc)

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"{self.store.url}: this run lost its lease on the output ({self.lost}); "
                            f"what it committed is intact, but check the other run before trusting the summary")

    def __enter__(self) -> "OutputLease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
