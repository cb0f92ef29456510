"""Reading input files safely, the one place every source reads through.

- Regular files only: a FIFO, a device or a socket named `x.jpg` is refused (`not_a_regular_file`)
  before it is opened (a FIFO would block the reader forever); the file is opened non-blocking and
  checked again on the open descriptor, so a swap between the check and the open is caught too.
- Never outside the input root: a path whose real location (symlinks resolved, in the file name or
  in any folder above it) lies outside the source's root folder is refused (`link_outside_input`),
  unless the recipe says `preprocess.follow_links_outside_input: true`.
- A byte cap per record (`preprocess.max_record_bytes`, 256 MiB by default): a file (or a tar
  member) declaring more is refused as `too_large` before any of it is read; a read never returns
  more than the cap (a file that grows while read is refused too).

Object stores (s3://, gs://, ...) have no links or special files; the cap applies to them as well.
The policy is per process, set from the recipe by the pipeline (planning and each worker's
UnitBuilder), as PIL's pixel limit is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import IO, Any

import fsspec

from ..errors import BadInput

DEFAULT_MAX_RECORD_BYTES = 256 * 2**20

_policy: dict[str, Any] = {"max_record_bytes": DEFAULT_MAX_RECORD_BYTES, "follow_links_outside_input": False}


class InputRefused(BadInput, OSError):
    """An input file refused before (or instead of) reading it; an OSError too, so that a reader that
    only knows OSError still turns it into a reject rather than a failed unit."""


def set_input_policy(max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES, follow_links_outside_input: bool = False) -> None:
    """The recipe's `preprocess.max_record_bytes` (None: no cap) and `follow_links_outside_input`."""
    _policy["max_record_bytes"] = max_record_bytes
    _policy["follow_links_outside_input"] = follow_links_outside_input


def max_record_bytes() -> int | None:
    return _policy["max_record_bytes"]


def follows_links_outside_input() -> bool:
    return bool(_policy["follow_links_outside_input"])


def _local_path(url: str) -> str | None:
    """The local path of a plain path or file:// URL; None for other filesystems."""
    if url.startswith("file://"):
        return url.removeprefix("file://")
    return None if "://" in url else url


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def inside(path: str, root: str) -> bool:
    """Whether `path` (real, absolute) is `root` (real, absolute) or lies under it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_input(url: str, root: str | None = None) -> None:
    """Refuse (InputRefused) a local path that is not a regular file, or whose real location leaves
    `root` (when given). Missing files raise FileNotFoundError as open would."""
    path = _local_path(url)
    if path is None:
        return
    mode = None
    if root is not None and not follows_links_outside_input():
        root_path = _local_path(root)
        if root_path is not None:
            mode = _mode_if_plainly_below(path, root_path)
            if mode is None:  # a link or '..' below the root: resolve both and compare
                real, real_root = os.path.realpath(path), os.path.realpath(root_path)
                if not inside(real, real_root):
                    raise InputRefused("link_outside_input", f"{path} leads to {real}, outside the input folder {real_root} "
                                       "(preprocess.follow_links_outside_input: true allows it)")
    if mode is None:
        mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise InputRefused("not_a_regular_file", f"{path} is a {_kind(mode)}, not a regular file")


def _mode_if_plainly_below(path: str, root: str) -> int | None:
    """The file mode of `path` when it names a file below `root` through plain names only (no '.',
    '..' or symlink in any part after the root): then its real location is the root's real location
    plus those names, inside the root whatever the root itself links to. None otherwise (the caller
    resolves both). One lstat for a file directly in the root, where realpath costs one per part of
    both paths: this runs once per record on the build path."""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not path.startswith(prefix) or len(path) == len(prefix):
        return None
    parts = path[len(prefix):].split(os.sep)
    if any(part in ("", ".", "..") for part in parts):
        return None
    below = prefix
    for part in parts[:-1]:
        below += part
        if stat.S_ISLNK(os.lstat(below).st_mode):
            return None
        below += os.sep
    mode = os.lstat(path).st_mode
    return None if stat.S_ISLNK(mode) else mode


def check_size(size: int | None, what: str, limit: int | None = None) -> None:
    """Refuse (too_large) a declared size over the record cap."""
    limit = max_record_bytes() if limit is None else limit
    if limit is not None and size is not None and size > limit:
        raise InputRefused("too_large", f"{what}: {size} bytes over preprocess.max_record_bytes={limit}")


@contextlib.contextmanager
def open_input(url: str, root: str | None = None) -> Iterator[IO[bytes]]:
    """A binary file object for a checked input (check_input): local files are opened non-blocking
    and checked again on the descriptor."""
    path = _local_path(url)
    if path is None:
        with fsspec.open(url, "rb") as f:
            yield f
        return
    check_input(url, root)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputRefused("not_a_regular_file", f"{path} is a {_kind(mode)}, not a regular file")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_bytes(url: str, root: str | None = None, max_bytes: int | None = None) -> bytes:
    """The bytes of an input file (open_input's checks), at most `max_bytes` (too_large beyond it);
    `max_bytes=None` reads it all (annotation files, lists: not records)."""
    with open_input(url, root) as f:
        if max_bytes is None:
            return f.read()
        size = _size(f)
        check_size(size, url, max_bytes)
        # Ask for what the file declares (a read of the cap would allocate the cap first: 256 MiB
        # per small record), then, if it grew meanwhile, for the rest up to the cap.
        first = max_bytes if size is None else min(size, max_bytes)
        data = f.read(first + 1)
        if first < max_bytes and len(data) > first:
            data += f.read(max_bytes - len(data) + 1)
    check_size(len(data), url, max_bytes)  # a file longer than it said
    return data


def read_record_bytes(url: str, root: str | None = None) -> bytes:
    """read_bytes capped at the recipe's max_record_bytes: how a record's file is read."""
    return read_bytes(url, root, max_record_bytes())


def _size(f: Any) -> int | None:
    """The size a file object declares: fstat for local files, fsspec's `size` for remote ones."""
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        size = getattr(f, "size", None)
        return size if isinstance(size, int) else None
