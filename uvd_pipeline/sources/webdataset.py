"""WebDataset tars as img2dataset writes them (NNNNN.tar with KEY.jpg / KEY.json / KEY.txt); a unit per tar."""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Iterator
from typing import Any

import fsspec
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..ids import bytes_id
from ..images import decode_image, to_rgb_array
from ..stages import Source
from ..storage import full_path, list_files
from ..types import Image, Item, Reject, WorkUnit

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
META_FIELDS = ("caption", "url", "key", "width", "height")


class WebDatasetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="folder holding .tar shards (local path or fsspec URL)")
    recursive: bool = False


class WebDatasetSource(Source):
    Params = WebDatasetParams

    def units(self) -> list[dict[str, Any]]:
        fs, inner, tars = list_files(self.params.path, (".tar",), self.params.recursive)
        root = full_path(fs, inner)
        return [{"root": root, "tar": t} for t in tars]

    def count_records(self, payload: dict[str, Any]) -> int:
        """The records read() yields, from the tar's member headers alone (no image is decoded;
        on a seekable file, member data is skipped, not read)."""
        url = payload["root"].rstrip("/") + "/" + payload["tar"]
        count, key = 0, None
        try:
            with fsspec.open(url, "rb") as f, tarfile.open(fileobj=f, mode="r:*") as tar:
                for member in tar:
                    if not _safe_member(member.name) or member.issym() or member.islnk():
                        count += 1  # read() rejects it as one record
                        continue
                    if not member.isfile():
                        continue
                    dirname, base = posixpath.split(member.name)
                    member_key = posixpath.join(dirname, base.partition(".")[0])
                    if member_key != key:
                        count += key is not None  # the previous sample is complete
                        key = member_key
        except (tarfile.TarError, OSError, EOFError):
            return count + 1  # read() ends such a tar with one corrupt_tar reject
        return count + (key is not None)

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root, name = unit.payload["root"], unit.payload["tar"]
        url = root.rstrip("/") + "/" + name
        try:
            with fsspec.open(url, "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tar:
                yield from _samples(tar, name)
        except (tarfile.TarError, OSError, EOFError) as exc:
            yield Reject(f"{name}", "corrupt_tar", f"{url}: {type(exc).__name__}: {exc}")


def _samples(tar: tarfile.TarFile, tar_name: str) -> Iterator[Item | Reject]:
    """Group consecutive members by key (the path up to the first dot of the basename)."""
    key: str | None = None
    parts: dict[str, bytes] = {}
    for member in tar:
        record = f"{tar_name}/{member.name}"
        if not _safe_member(member.name):
            yield Reject(record, "unsafe_member_path", f"member path escapes the tar: {member.name!r}")
            continue
        if member.issym() or member.islnk():
            yield Reject(record, "link_member", f"links are not read: {member.name!r} -> {member.linkname!r}")
            continue
        if not member.isfile():
            continue
        dirname, base = posixpath.split(member.name)
        stem, _, ext = base.partition(".")
        member_key = posixpath.join(dirname, stem)
        if key is not None and member_key != key:
            yield _sample(tar_name, key, parts)
            parts = {}
        key = member_key
        fobj = tar.extractfile(member)
        parts[ext.lower()] = fobj.read() if fobj else b""
    if key is not None:
        yield _sample(tar_name, key, parts)


def _safe_member(name: str) -> bool:
    if name.startswith("/") or "\\" in name:
        return False
    return ".." not in name.split("/")


def _sample(tar_name: str, key: str, parts: dict[str, bytes]) -> Item | Reject:
    record = f"{tar_name}/{key}"
    image_ext = next((e for e in IMAGE_KEYS if e in parts), None)
    if image_ext is None:
        return Reject(record, "no_image", f"sample has {sorted(parts)} but no {'/'.join(IMAGE_KEYS)}")
    data = parts[image_ext]
    try:
        pixels = to_rgb_array(decode_image(data, record))
    except BadInput as exc:
        return Reject(record, exc.reason, exc.detail)
    meta: dict[str, Any] = {"key": key}
    if "json" in parts:
        try:
            info = json.loads(parts["json"])
            meta.update({k: info[k] for k in META_FIELDS if isinstance(info, dict) and k in info})
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's limit
            meta["json_error"] = "sidecar .json is not valid JSON"
    if "txt" in parts and "caption" not in meta:
        meta["caption"] = parts["txt"].decode("utf-8", "replace")
    return Item(record=record, image=Image(bytes_id(data), pixels), meta=meta)
