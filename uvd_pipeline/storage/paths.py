"""Paths through fsspec: every source and the output take local paths or URLs (s3://, gs://, ...)."""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Iterable
from typing import Any

from fsspec.core import url_to_fs

from .input_files import follows_links_outside_input, inside

log = logging.getLogger(__name__)


def filesystem(path: str) -> tuple[Any, str]:
    """(filesystem, path within it) for a local path or fsspec URL."""
    fs, inner = url_to_fs(str(path))
    return fs, inner


def full_path(fs: Any, inner: str) -> str:
    """A URL that fsspec can open again on a worker (protocol kept for remote stores)."""
    return fs.unstrip_protocol(inner) if not _is_local(fs) else inner


def _is_local(fs: Any) -> bool:
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return proto in ("file", "local")


def list_files(root: str, extensions: tuple[str, ...], recursive: bool = True) -> tuple[Any, str, list[str]]:
    """Sorted relative paths under root whose extension (case-insensitive) is in `extensions`."""
    fs, inner = filesystem(root)
    if not fs.isdir(inner):
        raise FileNotFoundError(f"{root}: no such directory")
    if _is_local(fs):
        found = _local_walk(inner, recursive)
    else:
        found = fs.find(inner) if recursive else [p for p in fs.ls(inner, detail=False) if fs.isfile(p)]
    base = inner.rstrip("/")
    rel = []
    for p in found:
        if p.lower().endswith(extensions):
            rel.append(posixpath.relpath(p, base) if not _is_local(fs) else _local_rel(p, base))
    return fs, inner, sorted(rel)


def list_folder(path: str, extensions: Iterable[str], recursive: bool = True) -> tuple[str, list[str]]:
    """(root URL a worker can open, sorted relative paths) of the files under a folder source's
    `path` whose extension is one of `extensions`, given as a recipe writes them ("jpg", ".PNG"):
    the one listing that folder sources cut into work units with `in_units`."""
    suffixes = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    fs, inner, files = list_files(path, suffixes, recursive)
    return full_path(fs, inner), files


def in_units(entries: list[Any], unit_size: int) -> list[list[Any]]:
    """Consecutive runs of `unit_size` entries (the last may be shorter), in the given order: what
    each work unit of a source holds. Unit payloads, and so output digests, depend on this cut."""
    return [entries[i : i + unit_size] for i in range(0, len(entries), unit_size)]


def _local_rel(p: str, base: str) -> str:
    return os.path.relpath(p, base).replace(os.sep, "/")


def _local_walk(base: str, recursive: bool) -> list[str]:
    """Every entry under a local folder that is not a folder: regular files, and also links to files,
    FIFOs, devices and sockets, which reading refuses with a reason (input_files.py) so that they
    are records with a reject row rather than a hang or a silent gap. A linked folder is entered
    when its real location stays inside `base` (or the recipe allows leaving it) and is not one of
    the folders it is in (a link loop); one leading outside is not entered, with a warning."""
    real_base = os.path.realpath(base)
    found: list[str] = []

    def walk(folder: str, chain: tuple[str, ...]) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if not is_dir:
                found.append(entry.path)
                continue
            if not recursive:
                continue
            real = os.path.realpath(entry.path)
            if entry.is_symlink() and not inside(real, real_base) and not follows_links_outside_input():
                log.warning("%s: a link to %s, outside the input folder %s: not entered "
                            "(preprocess.follow_links_outside_input: true enters it)", entry.path, real, real_base)
                continue
            if real in chain:
                log.warning("%s: a link to %s, a folder it is in: not entered again", entry.path, real)
                continue
            walk(entry.path, (*chain, real))

    walk(base, (real_base,))
    return found


def join(root: str, rel: str) -> str:
    if "://" in root:
        return root.rstrip("/") + "/" + rel
    return os.path.join(root, rel)
