"""Reading and merging COCO JSON files at planning (for sources/coco.py).

Several files are merged by id, as COCO ships them: instances and person_keypoints list the same
images and the same person annotations, the second adding keypoints. A later file's entry is
merged into the earlier one field by field when no field disagrees. Nothing is overwritten: the
same image or annotation id twice in one file (`duplicate_image_id`, `duplicate_annotation_id`),
an entry whose fields disagree with an earlier file's (`conflicting_image`,
`conflicting_annotation`) or a category renamed (`conflicting_category`) is a reject of the later
entry, whose record is its position in its file (`instances.json:annotations[12]`).
"""

from __future__ import annotations

import json
import math
import posixpath
from numbers import Real
from typing import Any

from ..storage import read_bytes


def problem(record: str, reason: str, detail: str) -> dict[str, str]:
    return {"record": record, "reason": reason, "detail": detail}


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    try:
        return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))
    except OverflowError:  # an integer beyond float range
        return False


class Collected:
    """What planning gathers from the JSON files."""

    def __init__(self) -> None:
        self.images: dict[int, dict] = {}
        self.categories: dict[int, str] = {}
        self.annotations: dict[int, dict] = {}
        self.problems: list[dict[str, str]] = []
        self._first_file: dict[tuple[str, int], str] = {}  # ("image" | "annotation", id) -> its first file

    def add(self, what: str, into: dict[int, dict], entry: dict, record: str, path: str) -> None:
        """Add an image entry or annotation by its id (module docstring: merged, or a reject)."""
        i = entry["id"]
        prev = into.get(i)
        if prev is None:
            into[i] = dict(entry)
            self._first_file[(what, i)] = path
            return
        first = self._first_file[(what, i)]
        if first == path:
            self.problems.append(problem(record, f"duplicate_{what}_id", f"{path}: {what} id {i} is listed twice"))
            return
        clash = sorted(k for k in entry if k in prev and prev[k] != entry[k])
        if clash:
            self.problems.append(problem(record, f"conflicting_{what}", f"{path}: {what} id {i}: {clash} differ from {first}"))
            return
        prev.update(entry)


def collect(paths: list[str]) -> Collected:
    got = Collected()
    for path in paths:
        name = posixpath.basename(path.rstrip("/"))
        try:
            data = json.loads(read_bytes(path))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            got.problems.append(problem(name, "bad_coco_file", f"{path}: {type(exc).__name__}: {exc}"))
            continue
        missing = [k for k in ("images", "annotations", "categories") if not isinstance(data, dict) or not isinstance(data.get(k), list)]
        if missing:
            got.problems.append(problem(name, "missing_field", f"{path}: no {missing} list at the top level"))
            continue
        for i, cat in enumerate(data["categories"]):
            if not isinstance(cat, dict) or not is_int(cat.get("id")) or not isinstance(cat.get("name"), str):
                got.problems.append(problem(f"{name}:categories[{i}]", "missing_field", "a category needs int 'id' and str 'name'"))
            elif got.categories.get(cat["id"], cat["name"]) != cat["name"]:
                got.problems.append(problem(f"{name}:categories[{i}]", "conflicting_category",
                                            f"{path}: category {cat['id']} is {cat['name']!r}, earlier {got.categories[cat['id']]!r}"))
            else:
                got.categories[cat["id"]] = cat["name"]
        for i, img in enumerate(data["images"]):
            if not isinstance(img, dict) or not is_int(img.get("id")):
                got.problems.append(problem(f"{name}:images[{i}]", "missing_field", "an image entry needs an int 'id'"))
            else:
                got.add("image", got.images, img, f"{name}:images[{i}]", path)
        for i, ann in enumerate(data["annotations"]):
            if not isinstance(ann, dict) or not is_int(ann.get("id")) or not is_int(ann.get("image_id")):
                got.problems.append(problem(f"{name}:annotations[{i}]", "missing_field", "an annotation needs int 'id' and 'image_id'"))
            else:
                got.add("annotation", got.annotations, ann, f"{name}:annotations[{i}]", path)
    return got
