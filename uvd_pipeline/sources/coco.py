"""COCO annotations (instances, person keypoints; several files merged by annotation id).

One item per image, its annotations in item.meta (JSON-able):
    {"image_id", "file_name", "width", "height",
     "annotations": [{"id", "category_id", "category", "iscrowd", "bbox"?, "area"?, "keypoints"?,
                      "segmentation"?}]}
`kind` picks what is read and checked: "boxes", "keypoints", "segmentation" (only images with at
least one annotation of that kind are listed) or "all". Planning reads the JSON files once and puts
each unit's image entries and raw annotations in its payload, so workers never parse the big file.

Nothing in a COCO file crashes a run: a broken file, an image entry or annotation with a missing or
malformed field, a negative-size box, a bad polygon or RLE, a visible keypoint outside the image,
an unknown category, an annotation of a missing image, or a second image entry naming the same file
each becomes a reject row with its reason (record "annotation/<id>", "<file>:annotations[<i>]", or
the image's file). An image keeps its valid annotations, is rejected with none of `kind`. Masks are
checked and decoded with pycocotools (renderers/coco_masks.py).

`coco_panoptic` (CocoPanopticSource, below) reads the panoptic format instead: a JSON of
per-image segments_info and a folder of PNGs with segment ids, for the `coco_panoptic` renderer.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..renderers.coco_masks import check_segmentation
from ..renderers.palette import PALETTE_SIZE
from ..stages import Source
from ..storage import filesystem, full_path, in_units, join, read_bytes
from ..types import Item, Reject, WorkUnit
from .coco_files import collect, is_int, is_num, problem
from .image_folder import read_image_file

Kind = Literal["all", "boxes", "keypoints", "segmentation"]
FIELDS = {
    "boxes": ("bbox",),
    "keypoints": ("bbox", "keypoints", "num_keypoints"),
    "segmentation": ("bbox", "segmentation", "area"),
    "all": ("bbox", "keypoints", "num_keypoints", "segmentation", "area"),
}


class CocoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: str = Field(description="folder holding the images named by file_name")
    annotations: list[str] = Field(min_length=1, description="COCO JSON files (instances, person_keypoints)")
    kind: Kind = Field(default="all", description="which annotations to read and check")
    images_per_unit: int = Field(default=64, ge=1)
    max_images: int | None = Field(default=None, ge=1, description="read only the first N listed images")


def _has_kind(ann: dict, kind: str) -> bool:
    if kind == "boxes":
        return "bbox" in ann
    if kind == "segmentation":
        return "segmentation" in ann
    if kind == "keypoints":
        kp = ann.get("keypoints")
        return isinstance(kp, list) and any(is_num(v) and v > 0 for v in kp[2::3])
    return True


class CocoSource(Source):
    Params = CocoParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        got = collect(p.annotations)
        by_image: dict[int, list[dict]] = {}
        keep = set(FIELDS[p.kind]) | {"id", "image_id", "category_id", "iscrowd"}
        for ann_id in sorted(got.annotations):
            ann = got.annotations[ann_id]
            if ann["image_id"] not in got.images:
                got.problems.append(problem(f"annotation/{ann_id}", "unknown_image", f"image_id {ann['image_id']} is not in the images list"))
                continue
            if _has_kind(ann, p.kind):
                by_image.setdefault(ann["image_id"], []).append({k: v for k, v in ann.items() if k in keep})
        listed, names = [], set()
        for i in sorted(got.images):
            name = got.images[i].get("file_name")
            if isinstance(name, str) and name in names:  # records must be unique: one image per file
                got.problems.append(problem(f"image/{i}", "duplicate_file_name", f"{name!r} is named by an earlier image id"))
                got.problems += [problem(f"annotation/{a['id']}", "image_rejected", f"its image {i} names the file {name!r} "
                                         "of an earlier image") for a in by_image.get(i, [])]
                continue
            if isinstance(name, str):  # another type is rejected when read (missing_field)
                names.add(name)
            if p.kind == "all" or i in by_image:
                listed.append(i)
        if p.max_images:
            listed = listed[: p.max_images]
        fs, inner = filesystem(p.images)
        root = full_path(fs, inner)
        categories = {str(k): v for k, v in sorted(got.categories.items())}
        entries = [{"image": got.images[i], "annotations": by_image.get(i, [])} for i in listed]
        step = p.images_per_unit
        units = [{"root": root, "kind": p.kind, "categories": categories, "images": part, "problems": []}
                 for part in in_units(entries, step)]
        if got.problems:
            if not units:
                units.append({"root": root, "kind": p.kind, "categories": categories, "images": [], "problems": []})
            units[0]["problems"] = got.problems
        return units

    def count_records(self, payload: dict[str, Any]) -> None:
        return None  # the annotations of an image that fails to load become records: only a read knows

    def expected_records(self, payload: dict[str, Any]) -> int:
        """For the planner: the records a clean read yields (images, problems, annotations failing checks)."""
        records = {p["record"] for p in payload.get("problems", [])}
        categories = {int(k): v for k, v in payload["categories"].items()}
        for entry in payload["images"]:
            img = entry["image"]
            records.add(_image_record(img))
            for ann in entry["annotations"]:
                if not _usable_entry(img) or _fails_checks(ann, payload["kind"], categories, img["width"], img["height"]):
                    records.add(f"annotation/{ann['id']}")
        return len(records)

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        pay = unit.payload
        for prob in pay.get("problems", []):
            yield Reject(prob["record"], prob["reason"], prob["detail"])
        categories = {int(k): v for k, v in pay["categories"].items()}
        for entry in pay["images"]:
            yield from self._read_image(pay["root"], pay["kind"], categories, entry)

    def _read_image(self, root: str, kind: str, categories: dict[int, str], entry: dict) -> Iterator[Item | Reject]:
        img = entry["image"]
        record = _image_record(img)
        if not _usable_entry(img):
            for ann in entry["annotations"]:
                yield Reject(f"annotation/{ann['id']}", "bad_image_entry", f"its image {img['id']} is unusable")
            yield Reject(record, "missing_field", f"image {img['id']} needs str 'file_name' and positive int 'width', 'height'")
            return
        w, h = img["width"], img["height"]
        valid = []
        for ann in entry["annotations"]:
            try:
                valid.append(check_annotation(ann, kind, categories, w, h))
            except BadInput as exc:
                yield Reject(f"annotation/{ann['id']}", exc.reason, f"{img['file_name']}: {exc.detail}")
        got = _load_image(root, img, record)
        if isinstance(got, Reject):
            yield got
            for ann in valid:  # the image's annotations are records too: none disappears with it
                yield Reject(f"annotation/{ann['id']}", "image_rejected", f"its image {record} was rejected ({got.reason})")
            return
        if kind != "all" and not valid:
            n = len(entry["annotations"])
            yield Reject(record, "no_valid_annotation", f"none of its {n} {kind} annotation(s) passed the checks")
            return
        got.meta = {"image_id": img["id"], "file_name": img["file_name"], "width": w, "height": h, "annotations": valid}
        yield got


def _image_record(img: dict) -> str:
    name = img.get("file_name")
    return name if isinstance(name, str) and name else f"image/{img['id']}"


def _fails_checks(ann: dict, kind: str, categories: dict[int, str], width: int, height: int) -> bool:
    try:
        check_annotation(ann, kind, categories, width, height)
        return False
    except BadInput:
        return True


def _usable_entry(img: dict) -> bool:
    w, h = img.get("width"), img.get("height")
    return isinstance(img.get("file_name"), str) and is_int(w) and is_int(h) and w > 0 and h > 0


def _load_image(root: str, img: dict, record: str) -> Item | Reject:
    """The image file as an Item, or a Reject when unreadable or not the size the entry says."""
    name = img["file_name"]
    if name.startswith("/") or "://" in name or ".." in name.replace("\\", "/").split("/"):
        return Reject(record, "unsafe_path", f"file_name {name!r} points outside the images folder")
    got = read_image_file(join(root, name), record=record, root=root)
    if isinstance(got, Reject):
        return got
    ph, pw = got.image.pixels.shape[:2]
    if (pw, ph) != (img["width"], img["height"]):
        return Reject(record, "size_mismatch", f"the file is {pw}x{ph}, the annotation file says {img['width']}x{img['height']}")
    return got


def check_annotation(ann: dict, kind: str, categories: dict[int, str], width: int, height: int) -> dict:
    """A cleaned copy of one annotation, or BadInput naming the field at fault."""
    cat = ann.get("category_id")
    if cat is None:
        raise BadInput("missing_field", f"annotation {ann['id']} has no 'category_id'")
    if not is_int(cat) or cat not in categories:
        raise BadInput("unknown_category", f"annotation {ann['id']}: category_id {cat!r} is not in the categories list")
    crowd = ann.get("iscrowd", 0)
    if crowd not in (0, 1):
        raise BadInput("bad_field", f"annotation {ann['id']}: iscrowd must be 0 or 1, got {crowd!r}")
    out: dict[str, Any] = {"id": ann["id"], "category_id": cat, "category": categories[cat], "iscrowd": int(crowd)}
    where = f"annotation {ann['id']}"
    if "bbox" in ann or kind in ("boxes", "all"):
        if "bbox" not in ann:
            raise BadInput("missing_field", f"{where} has no 'bbox'")
        out["bbox"] = _check_bbox(ann["bbox"], width, height, where)
    if "keypoints" in ann:
        out["keypoints"] = _check_keypoints(ann["keypoints"], width, height, where)
    if "segmentation" in ann:
        if cat >= PALETTE_SIZE:
            raise BadInput("category_out_of_palette", f"{where}: category {cat} has no colour in the {PALETTE_SIZE}-colour palette")
        out["segmentation"] = check_segmentation(ann["segmentation"], width, height, where)
    if is_num(ann.get("area")):
        out["area"] = float(ann["area"])
    return out


def _check_bbox(bbox: Any, width: int, height: int, where: str) -> list[float]:
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_num(v) for v in bbox):
        raise BadInput("bad_bbox", f"{where}: bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}")
    x, y, bw, bh = (float(v) for v in bbox)
    if bw <= 0 or bh <= 0:
        raise BadInput("bad_bbox", f"{where}: bbox {bbox} has a non-positive size")
    if x >= width or y >= height or x + bw <= 0 or y + bh <= 0:
        raise BadInput("bbox_outside_image", f"{where}: bbox {bbox} lies outside the {width}x{height} image")
    return [x, y, bw, bh]


def _check_keypoints(kp: Any, width: int, height: int, where: str) -> list[float]:
    if not isinstance(kp, list) or len(kp) != 51 or not all(is_num(v) for v in kp):
        n = len(kp) if isinstance(kp, list) else type(kp).__name__
        raise BadInput("bad_keypoints", f"{where}: keypoints must be 17 x (x, y, v) finite numbers, got {n}")
    for j in range(17):
        x, y, v = kp[3 * j : 3 * j + 3]
        if v not in (0, 1, 2):
            raise BadInput("bad_keypoints", f"{where}: keypoint {j} has visibility {v!r}, not 0, 1 or 2")
        if v > 0 and not (0 <= x <= width and 0 <= y <= height):
            raise BadInput("keypoint_outside_image",
                           f"{where}: keypoint {j} at ({x:g}, {y:g}) lies outside the {width}x{height} image")
    return [float(v) for v in kp]


class CocoPanopticParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: str = Field(description="folder holding the images named by file_name")
    panoptic: str = Field(description="COCO panoptic JSON (annotations with segments_info)")
    masks: str = Field(description="folder of the panoptic PNGs named by each annotation's file_name")
    images_per_unit: int = Field(default=64, ge=1)
    max_images: int | None = Field(default=None, ge=1)


class CocoPanopticSource(Source):
    """`coco_panoptic`: one item per annotated image, meta["panoptic"] = {"file", "segments"} for the
    `coco_panoptic` renderer. A segment with a missing field or an unknown / off-palette category is
    a reject ("segment/<image id>/<segment id>") and is drawn as void."""

    Params = CocoPanopticParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        name = posixpath.basename(p.panoptic)
        problems: list[dict[str, str]] = []
        try:
            data = json.loads(read_bytes(p.panoptic))
        except (OSError, ValueError) as exc:
            data, problems = {}, [problem(name, "bad_coco_file", f"{p.panoptic}: {type(exc).__name__}: {exc}")]
        if data and not all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
            data, problems = {}, [problem(name, "missing_field", f"{p.panoptic}: needs images, annotations, categories lists")]
        images = {img["id"]: img for img in data.get("images", []) if isinstance(img, dict) and is_int(img.get("id"))}
        categories = {str(c["id"]): c.get("name", "") for c in data.get("categories", []) if isinstance(c, dict) and is_int(c.get("id"))}
        entries, annotated = [], {}
        for i, ann in enumerate(data.get("annotations", [])):
            ok = isinstance(ann, dict) and is_int(ann.get("image_id")) and isinstance(ann.get("file_name"), str) \
                and isinstance(ann.get("segments_info"), list)
            if not ok:
                problems.append(problem(f"{name}:annotations[{i}]", "missing_field", "needs int image_id, str file_name, list segments_info"))
            elif ann["image_id"] not in images:
                problems.append(problem(f"{name}:annotations[{i}]", "unknown_image", f"image_id {ann['image_id']} is not in the images list"))
            elif ann["image_id"] in annotated:
                problems.append(problem(f"{name}:annotations[{i}]", "duplicate_annotation", f"image {ann['image_id']} has "
                                        f"an earlier annotation entry (annotations[{annotated[ann['image_id']]}])"))
            else:
                annotated[ann["image_id"]] = i
                entries.append({"image": images[ann["image_id"]], "png": ann["file_name"], "segments": ann["segments_info"]})
        entries.sort(key=lambda e: e["image"]["id"])
        entries = entries[: p.max_images] if p.max_images else entries
        ifs, iinner = filesystem(p.images)
        mfs, minner = filesystem(p.masks)
        base = {"root": full_path(ifs, iinner), "masks": full_path(mfs, minner), "categories": categories}
        step = p.images_per_unit
        units = [{**base, "images": part, "problems": []} for part in in_units(entries, step)]
        if problems:
            units = units or [{**base, "images": [], "problems": []}]
            units[0]["problems"] = problems
        return units

    def count_records(self, payload: dict[str, Any]) -> None:
        return None  # the segments of an image that fails to load become records: only a read knows

    def expected_records(self, payload: dict[str, Any]) -> int:
        """For the planner: the records a clean read yields (problems, images, rejected segments)."""
        records = {p["record"] for p in payload.get("problems", [])}
        categories = {int(k) for k in payload["categories"]}
        for entry in payload["images"]:
            records.add(_image_record(entry["image"]))
            if _usable_entry(entry["image"]):
                records.update(rec for rec, bad in _segment_verdicts(entry["image"], entry, categories) if bad)
        return len(records)

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        pay = unit.payload
        for prob in pay.get("problems", []):
            yield Reject(prob["record"], prob["reason"], prob["detail"])
        categories = {int(k): v for k, v in pay["categories"].items()}
        for entry in pay["images"]:
            img = entry["image"]
            record = _image_record(img)
            if not _usable_entry(img):
                yield Reject(record, "missing_field", f"image {img['id']} needs str 'file_name' and positive int 'width', 'height'")
                continue
            segments = []
            for k, (seg, (rec, bad)) in enumerate(zip(entry["segments"], _segment_verdicts(img, entry, set(categories)))):
                if bad == "missing_field":
                    yield Reject(rec, bad, f"{entry['png']}: segment {k} needs positive int 'id' and int 'category_id'")
                elif bad == "duplicate_segment_id":
                    yield Reject(rec, bad, f"{entry['png']}: segment id {seg['id']} is listed twice")
                elif bad:
                    yield Reject(rec, bad, f"{entry['png']}: category {seg['category_id']} is not listed or has no palette colour")
                else:
                    segments.append({"id": seg["id"], "category_id": seg["category_id"], "category": categories[seg["category_id"]],
                                     "iscrowd": int(seg.get("iscrowd", 0) == 1)})
            got = _load_image(pay["root"], img, record)
            if isinstance(got, Reject):
                yield got
                for seg in segments:  # its segments are records too
                    yield Reject(f"segment/{img['id']}/{seg['id']}", "image_rejected", f"its image {record} was rejected ({got.reason})")
                continue
            got.meta = {"image_id": img["id"], "file_name": img["file_name"], "width": img["width"], "height": img["height"],
                        "panoptic": {"file": join(pay["masks"], entry["png"]), "segments": segments}}
            yield got


def _segment_verdicts(img: dict, entry: dict, categories: set[int]) -> list[tuple[str, str]]:
    """(record, reject reason or "") of each panoptic segment of an image entry; a segment id listed
    again is rejected under its position (`<png>:segments_info[k]`), never merged."""
    out, seen = [], set()
    for k, seg in enumerate(entry["segments"]):
        sid, cat = (seg.get("id"), seg.get("category_id")) if isinstance(seg, dict) else (None, None)
        record = f"segment/{img['id']}/{sid if is_int(sid) else k}"
        if record in seen:
            out.append((f"{entry['png']}:segments_info[{k}]", "duplicate_segment_id"))
            continue
        seen.add(record)
        bad = "missing_field" if not is_int(sid) or sid <= 0 or not is_int(cat) else \
            "unknown_category" if cat not in categories or cat >= PALETTE_SIZE else ""
        out.append((record, bad))
    return out
