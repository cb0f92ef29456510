"""Paths through fsspec: every source and the output take local paths or URLs (s3://, gs://, ...)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

import fsspec
from fsspec.core import url_to_fs


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
    import os

    return os.path.relpath(p, base).replace(os.sep, "/")


def read_bytes(url: str) -> bytes:
    with fsspec.open(url, "rb") as f:
        return f.read()


def join(root: str, rel: str) -> str:
    if "://" in root:
        return root.rstrip("/") + "/" + rel
    import os

    return os.path.join(root, rel)
