"""Source `hand_keypoints_csv`: images with 21-point hand keypoints listed in a CSV.

The CSV has a header `image,hand,x0,y0,v0,...,x20,y20,v20`, one row per hand (an image with two
hands has two rows). `image` is a path relative to the `images` folder (default: the CSV's
folder); `hand` is left or right; x, y are pixels in the image; v is COCO's visibility (0 not
labelled, 1 occluded, 2 visible). A record is one image named in the CSV; rows with no image
name are records of their own (`hands.csv:LINE`).

Work units are runs of `unit_size` images in sorted order: planning reads only the image column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from uvd_pipeline.errors import BadInput, UvdError
from uvd_pipeline.ids import bytes_id
from uvd_pipeline.images import decode_image, to_rgb_array
from uvd_pipeline.stages import Source
from uvd_pipeline.storage import filesystem, full_path, join, read_bytes
from uvd_pipeline.types import Image, Item, Reject, WorkUnit

from .hand import csv_columns, parse_row


class HandCsvError(UvdError):
    """The CSV itself cannot be planned from (not text, no header, missing columns)."""


class HandKeypointsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csv: str = Field(description="the keypoints CSV (local path or fsspec URL)")
    images: str | None = Field(default=None, description="folder the image column is relative to (default: the CSV's)")
    unit_size: int = Field(default=64, ge=1, description="images per work unit")


class HandKeypointsCsvSource(Source):
    Params = HandKeypointsParams
    version = "1"

    def units(self) -> list[dict[str, Any]]:
        csv_url = _absolute(self.params.csv)
        root = _absolute(self.params.images) if self.params.images else csv_url.rsplit("/", 1)[0]
        images: set[str] = set()
        bad_lines: list[int] = []
        for line, row in _rows(csv_url, read_bytes(csv_url)):
            name = (row.get("image") or "").strip()
            if name:
                images.add(name)
            else:
                bad_lines.append(line)
        names = sorted(images)
        size = self.params.unit_size
        units = [
            {"csv": csv_url, "root": root, "images": names[i : i + size], "bad_lines": []}
            for i in range(0, len(names), size)
        ] or [{"csv": csv_url, "root": root, "images": [], "bad_lines": []}]
        units[0]["bad_lines"] = bad_lines  # rows without an image belong to the first unit
        return units

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["images"]) + len(payload["bad_lines"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        csv_url, wanted = unit.payload["csv"], set(unit.payload["images"])
        csv_name = csv_url.rsplit("/", 1)[-1]
        bad_lines = set(unit.payload["bad_lines"])
        try:
            rows = list(_rows(csv_url, read_bytes(csv_url)))
        except (OSError, HandCsvError) as exc:  # the CSV changed or vanished since planning
            for name in unit.payload["images"]:
                yield Reject(name, "unreadable_csv", str(exc))
            for line in sorted(bad_lines):
                yield Reject(f"{csv_name}:{line}", "unreadable_csv", str(exc))
            return
        by_image: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for line, row in rows:
            name = (row.get("image") or "").strip()
            if name in wanted:
                by_image.setdefault(name, []).append((line, row))
            elif not name and line in bad_lines:
                yield Reject(f"{csv_name}:{line}", "bad_row", f"{csv_name} line {line}: the image column is empty")
        for name in unit.payload["images"]:
            yield self._item(unit.payload["root"], name, csv_name, by_image.get(name, []))

    def _item(self, root: str, name: str, csv_name: str, rows: list[tuple[int, dict[str, Any]]]) -> Item | Reject:
        if not rows:
            return Reject(name, "unreadable_csv", f"{csv_name}: no rows for {name} any more")
        try:
            hands = [parse_row(row, f"{csv_name} line {line}") for line, row in rows]
        except BadInput as exc:
            return Reject(name, exc.reason, exc.detail)
        url = join(root, name)
        try:
            data = read_bytes(url)
        except FileNotFoundError:
            return Reject(name, "missing_image", f"{csv_name} names {name}, which is not in {root}")
        except OSError as exc:
            return Reject(name, "unreadable_file", f"{url}: {exc}")
        try:
            pixels = to_rgb_array(decode_image(data, name))
        except BadInput as exc:
            return Reject(name, exc.reason, exc.detail)
        return Item(record=name, image=Image(bytes_id(data), pixels), meta={"hands": hands})

    @classmethod
    def conformance_example(cls, tmp_dir: Path) -> dict[str, Any]:
        from .sample_data import make_hand_data

        make_hand_data(tmp_dir / "clean", n_images=5, seed=1, faults=False)
        make_hand_data(tmp_dir / "faulty", n_images=2, seed=2, faults=True)
        return {
            "params": {"csv": str(tmp_dir / "clean" / "hands.csv"), "unit_size": 2},
            "bad_params": {"csv": str(tmp_dir / "faulty" / "hands.csv"), "unit_size": 2},
        }


def _absolute(path: str) -> str:
    fs, inner = filesystem(path)
    return full_path(fs, inner)


def _rows(csv_url: str, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for every data row; HandCsvError when the file is no usable CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HandCsvError(f"{csv_url}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
        if not header:
            raise HandCsvError(f"{csv_url}: empty file, expected a header {','.join(csv_columns()[:5])},...")
        missing = [c for c in csv_columns() if c not in header]
        if missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            raise HandCsvError(f"{csv_url}: header lacks column(s) {shown}")
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise HandCsvError(f"{csv_url} line {reader.line_num}: {exc}") from None
