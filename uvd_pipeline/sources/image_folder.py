"""A folder of images (jpg/png/webp/...), searched recursively, split into units of N files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..ids import bytes_id
from ..images import IMAGE_EXTENSIONS, decode_image, decoded_image
from ..stages import Source
from ..storage import check_input, in_units, join, list_folder, read_record_bytes
from ..types import Item, Reject, WorkUnit


class ImageFolderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="folder (local path or fsspec URL)")
    extensions: list[str] = Field(default_factory=lambda: list(IMAGE_EXTENSIONS))
    recursive: bool = True
    unit_size: int = Field(default=256, ge=1, description="files per work unit")


class FileFolderSource(Source):
    """A source whose records are the files in a folder: its Params have `path`, `extensions`,
    `recursive` and `unit_size`; the sorted listing is cut into units of `unit_size` files, and a
    subclass says how to read one file (`read_file`). `files_key` names the unit payload's list of
    files; payloads enter output digests, so a subclass keeps the key it has always had."""

    files_key: ClassVar[str] = "files"

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        root, files = list_folder(p.path, p.extensions, p.recursive)
        return [{"root": root, self.files_key: part} for part in in_units(files, p.unit_size)]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload[self.files_key])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root = unit.payload["root"]
        for rel in unit.payload[self.files_key]:
            url = join(root, rel)
            try:  # a FIFO, device or link leaving the folder is refused before any reader opens it
                check_input(url, root)
            except BadInput as exc:
                yield Reject(rel, exc.reason, exc.detail)
                continue
            except (OSError, ValueError):
                pass  # missing or unnamable: the reader says so in its own terms
            yield from self.read_file(url, rel, unit.source)

    def read_file(self, url: str, record: str, source: str) -> Iterator[Item | Reject]:
        """The items, or rejects, of one file; `record` is its path relative to the folder."""
        raise NotImplementedError


class ImageFolderSource(FileFolderSource):
    Params = ImageFolderParams

    def read_file(self, url: str, record: str, source: str) -> Iterator[Item | Reject]:
        yield read_image_file(url, record=record)


def read_image_file(url: str, record: str, meta: dict[str, Any] | None = None, root: str | None = None) -> Item | Reject:
    """One image file as an Item (id = hash of its bytes), or a Reject naming the reason: a special
    file, a link leaving `root` (when given) or a file over max_record_bytes too (storage.read_record_bytes)."""
    try:
        data = read_record_bytes(url, root)
    except BadInput as exc:
        return Reject(record, exc.reason, exc.detail)
    except (OSError, ValueError) as exc:  # ValueError: a path no filesystem takes (NUL byte)
        return Reject(record, "unreadable_file", f"{url}: {exc}")
    try:
        image = decoded_image(bytes_id(data), decode_image(data, record))
    except BadInput as exc:
        return Reject(record, exc.reason, exc.detail)
    return Item(record=record, image=image, meta=dict(meta or {}))
