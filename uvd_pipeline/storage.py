"""Paths through fsspec: every source and the output take local paths or URLs (s3://, gs://, ...)."""

from __future__ import annotations

import posixpath
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
