"""A folder of images (jpg/png/webp/...), searched recursively, split into units of N files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..ids import bytes_id
from ..images import IMAGE_EXTENSIONS, decode_image, to_rgb_array
from ..stages import Source
from ..storage import full_path, join, list_files, read_bytes
from ..types import Image, Item, Reject, WorkUnit


class ImageFolderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="folder (local path or fsspec URL)")
    extensions: list[str] = Field(default_factory=lambda: list(IMAGE_EXTENSIONS))
    recursive: bool = True
    unit_size: int = Field(default=256, ge=1, description="files per work unit")


class ImageFolderSource(Source):
    Params = ImageFolderParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in p.extensions)
        fs, inner, files = list_files(p.path, exts, p.recursive)
        root = full_path(fs, inner)
        return [
            {"root": root, "files": files[i : i + p.unit_size]} for i in range(0, len(files), p.unit_size)
        ]

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["files"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root = unit.payload["root"]
        for rel in unit.payload["files"]:
            yield read_image_file(join(root, rel), record=rel)


def read_image_file(url: str, record: str, meta: dict[str, Any] | None = None) -> Item | Reject:
    """One image file as an Item (id = hash of its bytes), or a Reject naming the reason."""
    try:
        data = read_bytes(url)
    except (OSError, ValueError) as exc:  # ValueError: a path no filesystem takes (NUL byte)
        return Reject(record, "unreadable_file", f"{url}: {exc}")
    try:
        img = decode_image(data, record)
        pixels = to_rgb_array(img)
    except BadInput as exc:
        return Reject(record, exc.reason, exc.detail)
    return Item(record=record, image=Image(bytes_id(data), pixels), meta=dict(meta or {}))
