"""ImageNet in ImageFolder layout (`root/<class>/<image>.JPEG`), a work unit per set of classes.

Class folders are sorted by name; a class's index is its position in that order (the usual
ImageNet/torchvision convention). Each item's meta is {"class": folder name, "class_index": i}.
A unit holds `classes_per_unit` whole classes so that the class-groups sequencer finds every
group it needs inside the unit. Files directly under root (not in a class folder) are not read.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..stages import Source
from ..storage import full_path, in_units, join, list_files
from ..types import Item, Reject, WorkUnit
from .image_folder import read_image_file


class ImageNetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="the split folder holding one folder per class (local path or fsspec URL)")
    classes_per_unit: int = Field(default=16, ge=1, description="whole classes per work unit")
    max_per_class: int | None = Field(default=None, ge=1, description="read at most this many images a class")
    extensions: list[str] = Field(default_factory=lambda: [".jpeg", ".jpg", ".png"])


class ImageNetSource(Source):
    Params = ImageNetParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in p.extensions)
        fs, inner, files = list_files(p.path, exts, recursive=True)
        root = full_path(fs, inner)
        by_class: dict[str, list[str]] = {}
        for rel in files:
            parts = rel.split("/")
            if len(parts) == 2:  # class_dir/file; deeper or shallower files are not ImageFolder layout
                by_class.setdefault(parts[0], []).append(rel)
        classes = sorted(by_class)
        entries = [
            {"name": c, "index": i, "files": by_class[c][: p.max_per_class] if p.max_per_class else by_class[c]}
            for i, c in enumerate(classes)
        ]
        step = p.classes_per_unit
        return [{"root": root, "classes": part} for part in in_units(entries, step)]

    def count_records(self, payload: dict[str, Any]) -> int:
        return sum(len(c["files"]) for c in payload["classes"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        root = unit.payload["root"]
        for cls in unit.payload["classes"]:
            for rel in cls["files"]:
                meta = {"class": cls["name"], "class_index": cls["index"], "file": posixpath.basename(rel)}
                yield read_image_file(join(root, rel), record=rel, meta=meta, root=root)
