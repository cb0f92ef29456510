"""The output root on any fsspec filesystem, with the writes that make commits exactly-once.

Data files get content-addressed names (`<unit>-<sha256[:16]>.<ext>`), so writing one twice
writes the same bytes, and a reader only ever looks at files that a ledger entry names. The ledger
entry is the commit point: written last, to a temporary name and renamed where the filesystem can
rename atomically (local disks), or in one PUT on object stores (which are atomic per object).

On object stores nothing is renamed: `fs.pipe_file` sends a file in one PUT (s3fs: below 100 MiB;
larger data files go as a multipart upload, which S3 also makes visible only when complete), and
listings and existence checks drop fsspec's listing cache first, since other processes (Ray
workers, Beam workers) commit units behind this process's back.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..storage import filesystem


class OutputStore:
    def __init__(self, root: str) -> None:
        self.url = str(root)
        self.fs, self.root = filesystem(self.url)
        proto = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        self.local = proto in ("file", "local")
        # s3fs sends a HEAD before each whole-file GET, to split files above its block size (50 MiB)
        # into parallel ranged GETs; unit files are far smaller, so whole-file reads are one GET.
        self._cat_options = {"max_concurrency": 1} if proto in ("s3", "s3a") else {}

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}"

    def makedirs(self, rel: str) -> None:
        self.fs.makedirs(self.path(rel), exist_ok=True)

    def exists(self, rel: str) -> bool:
        self._forget_listing(rel)
        return self.fs.exists(self.path(rel))

    def _forget_listing(self, rel: str) -> None:
        """Object-store listings are cached per process; other workers write behind our back."""
        if not self.local:
            self.fs.invalidate_cache(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        """The whole file: on object stores one GET (opening a file first would add a HEAD)."""
        return self.fs.cat_file(self.path(rel), **self._cat_options)

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    def write_bytes(self, rel: str, data: bytes, durable: bool = True) -> None:
        """Write so that a reader sees the whole file or none of it. On local disks the file is
        fsync'ed before its rename; `durable=False` skips that for derived files a reader checks
        anyway (run previews' candidates): a killed process still leaves the whole file or none,
        but after a crash of the machine it may be empty."""
        final = self.path(rel)
        if self.local:
            tmp = f"{final}.tmp-{uuid.uuid4().hex}"
            try:
                with self.fs.open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    if durable:
                        _fsync(f)
                self.fs.mv(tmp, final)
            except Exception:  # disk full, permissions: leave no partial temporary file behind
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
                raise
        else:  # one PUT: the object appears whole or not at all
            self.fs.pipe_file(final, data)

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    @contextmanager
    def open_write(self, rel: str) -> Iterator[Any]:
        """A file to stream into that readers see whole or not at all: a temporary name renamed
        on local disks; on object stores an upload that becomes visible only when closed."""
        final = self.path(rel)
        if not self.local:
            with self.fs.open(final, "wb") as f:
                yield f
            return
        tmp = f"{final}.tmp-{uuid.uuid4().hex}"
        try:
            with self.fs.open(tmp, "wb") as f:
                yield f
                f.flush()
                _fsync(f)
            self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def list(self, rel: str, suffix: str = "") -> list[str]:
        """File names (not paths) directly under rel, sorted; temporary files are skipped."""
        return sorted(self.names(rel, suffix))

    def names(self, rel: str, suffix: str = "") -> set[str]:
        """`list` without the order: a set, for membership (a resume's ledger check: sorting
        743,333 names is the one step of planning that grows faster than the unit count)."""
        p = self.path(rel)
        if self.local:  # the names alone (fsspec's ls costs ~4 us per entry more, scandir's entries ~0.2)
            try:
                names = os.listdir(p)
            except (FileNotFoundError, NotADirectoryError):
                return set()
        else:
            self._forget_listing(rel)
            if not self.fs.exists(p):
                return set()
            names = [n.rstrip("/").rsplit("/", 1)[-1] for n in self.fs.ls(p, detail=False)]
        return {n for n in names if n.endswith(suffix) and ".tmp-" not in n}

    def local_path(self, rel: str) -> str | None:
        return self.path(rel) if self.local else None

    def remove(self, rel: str) -> None:
        self.fs.rm(self.path(rel))


def _fsync(f: Any) -> None:
    try:
        os.fsync(f.fileno())
    except (AttributeError, OSError, ValueError):
        pass


def content_name(stem: str, data: bytes, ext: str) -> tuple[str, str]:
    """(file name, full sha256) for content-addressed data files."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{stem}-{digest[:16]}{ext}", digest
