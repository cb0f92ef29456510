"""WebDataset tars as img2dataset writes them (NNNNN.tar with KEY.jpg / KEY.json / KEY.txt); a unit per tar."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..ids import bytes_id
from ..images import decode_image, decoded_image
from ..stages import Source
from ..storage import full_path, list_files, max_record_bytes, open_input
from ..types import Item, Reject, WorkUnit

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
META_FIELDS = ("caption", "url", "key", "width", "height")
READ_KEYS = (*IMAGE_KEYS, "json", "txt")  # the parts a sample is made of; others are named, not read
# Reads of this size move the stream past a member that is not read (one over the cap).
STREAM_BUFFER = 1 << 20
COMPRESSED = ((b"\x1f\x8b\x08", "gzip"), (b"BZh91", "bz2"), (b"\xfd7zXZ", "xz"))  # as tarfile's "r|*" tells them


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
            with open_input(url, payload["root"]) as f, open_tar(f, random_access=True) as tar:
                for member in tar:
                    if not _safe_member(member.name) or member.issym() or member.islnk() or _special(member):
                        count += 1  # read() rejects it as one record
                        continue
                    if not member.isfile():
                        continue
                    dirname, base = posixpath.split(member.name)
                    member_key = posixpath.join(dirname, base.partition(".")[0])
                    if member_key != key:
                        count += key is not None  # the previous sample is complete
                        key = member_key
        except BadInput:
            return 1  # read() rejects the file itself (a FIFO, a link leaving the folder)
        except (tarfile.TarError, OSError, EOFError):
            return count + 1  # read() ends such a tar with one corrupt_tar reject
        return count + (key is not None)

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root, name = unit.payload["root"], unit.payload["tar"]
        url = root.rstrip("/") + "/" + name
        try:
            with open_input(url, root) as f, open_tar(f) as tar:
                yield from _samples(tar, name)
        except BadInput as exc:  # the tar is a FIFO or device, or a link leaving the folder
            yield Reject(name, exc.reason, exc.detail)
        except (tarfile.TarError, OSError, EOFError) as exc:
            yield Reject(f"{name}", "corrupt_tar", f"{url}: {type(exc).__name__}: {exc}")


def open_tar(f: Any, random_access: bool = False) -> tarfile.TarFile:
    """A tar reader on an open file, plain or gzip/bzip2/xz-compressed (told by its first bytes).

    A compressed tar is decompressed by Python's gzip/bz2/lzma file objects, which inflate at most
    what is asked for, and read as a stream: tarfile's own decompression (mode "r|gz") inflates a
    whole input block at once (a 10 KiB block of a gzip bomb is 10 MiB) and copies what is left
    after every read, so moving past a 1.5 GiB member took a minute. A plain tar is read with
    random access when asked (headers only: member data is skipped by seeking)."""
    head = f.read(6)
    f.seek(0)
    kind = next((name for magic, name in COMPRESSED if head.startswith(magic)), None)
    if kind is None:
        return tarfile.open(fileobj=f, mode="r:" if random_access else "r|", bufsize=STREAM_BUFFER)
    if kind == "gzip":
        inner: Any = gzip.GzipFile(fileobj=f, mode="rb")
    elif kind == "bz2":
        inner = bz2.BZ2File(f, mode="rb")
    else:
        inner = lzma.LZMAFile(f, mode="rb")
    try:
        return tarfile.open(fileobj=inner, mode="r|", bufsize=STREAM_BUFFER)
    except BaseException:
        inner.close()
        raise


def _samples(tar: tarfile.TarFile, tar_name: str) -> Iterator[Item | Reject]:
    """Group consecutive members by key (the path up to the first dot of the basename). A member
    over max_record_bytes (by its header's size, before any of it is decompressed) is not read:
    its sample is rejected as too_large."""
    key: str | None = None
    parts: dict[str, bytes | TooLarge] = {}
    limit = max_record_bytes()
    for member in tar:
        record = f"{tar_name}/{member.name}"
        if not _safe_member(member.name):
            yield Reject(record, "unsafe_member_path", f"member path escapes the tar: {member.name!r}")
            continue
        if member.issym() or member.islnk():
            yield Reject(record, "link_member", f"links are not read: {member.name!r} -> {member.linkname!r}")
            continue
        if _special(member):
            yield Reject(record, "special_member", f"{member.name!r} is a {_MEMBER_KINDS.get(member.type, 'special member')}"
                         f" (tar type {member.type!r}), not a file")
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
        ext = ext.lower()
        if ext not in READ_KEYS:
            parts[ext] = b""  # named in a no_image reject, never read
        elif limit is not None and member.size > limit:
            parts[ext] = TooLarge(f"member {member.name!r}: {member.size} bytes over preprocess.max_record_bytes={limit}")
        else:
            fobj = tar.extractfile(member)
            parts[ext] = fobj.read() if fobj else b""
    if key is not None:
        yield _sample(tar_name, key, parts)


@dataclass(frozen=True)
class TooLarge:
    """Stands for a member that was not read: its header says it is over the cap."""

    detail: str


_MEMBER_KINDS = {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}


def _special(member: tarfile.TarInfo) -> bool:
    """A device, FIFO or member of an unknown type: neither a file, a folder nor a link."""
    return not (member.isfile() or member.isdir() or member.issym() or member.islnk())


def _safe_member(name: str) -> bool:
    if name.startswith("/") or "\\" in name:
        return False
    return ".." not in name.split("/")


def _sample(tar_name: str, key: str, parts: dict[str, bytes | TooLarge]) -> Item | Reject:
    record = f"{tar_name}/{key}"
    image_ext = next((e for e in IMAGE_KEYS if e in parts), None)
    if image_ext is None:
        return Reject(record, "no_image", f"sample has {sorted(parts)} but no {'/'.join(IMAGE_KEYS)}")
    too_large = [p for p in parts.values() if isinstance(p, TooLarge)]
    if too_large:
        return Reject(record, "too_large", "; ".join(p.detail for p in too_large))
    data = parts[image_ext]
    try:
        image = decoded_image(bytes_id(data), decode_image(data, record))
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
    return Item(record=record, image=image, meta=meta)
