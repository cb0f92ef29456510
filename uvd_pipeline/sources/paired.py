"""Paired datasets (style transfer, derain, denoise, low-light, stereo): (input, output) images.

Either two folders whose files match by relative path without the extension (`input`, `output`),
or a CSV / JSONL file of rows with `input` and `output` paths (`pairs_file`; relative paths are
resolved against the file's folder). Each item is the input image with the output as the view
named `view` (default "output"), for the `pairs` sequencer. Files without a partner, ambiguous
names and malformed rows become reject rows (in the first unit), never errors.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..images import IMAGE_EXTENSIONS
from ..stages import Source
from ..storage import filesystem, full_path, join, list_files, read_bytes
from ..types import Item, Reject, WorkUnit
from .image_folder import read_image_file


class PairedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | None = Field(default=None, description="folder of input images")
    output: str | None = Field(default=None, description="folder of output images with matching names")
    pairs_file: str | None = Field(default=None, description="CSV (header input,output) or JSONL of pairs")
    view: str = Field(default="output", pattern=r"^[a-z0-9_]+$", description="view name of the output image")
    unit_size: int = Field(default=64, ge=1, description="pairs per work unit")

    @model_validator(mode="after")
    def _one_layout(self) -> PairedParams:
        folders = self.input is not None or self.output is not None
        if folders == (self.pairs_file is not None):
            raise ValueError("give either input and output folders, or a pairs_file")
        if folders and (self.input is None or self.output is None):
            raise ValueError("folder pairs need both input and output")
        return self


def _problem(record: str, reason: str, detail: str) -> dict[str, str]:
    return {"record": record, "reason": reason, "detail": detail}


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or "://" in path


class PairedSource(Source):
    Params = PairedParams

    def units(self) -> list[dict[str, Any]]:
        pairs, problems = self._folder_pairs() if self.params.pairs_file is None else self._file_pairs()
        step = self.params.unit_size
        units = [{"pairs": pairs[i : i + step], "problems": []} for i in range(0, len(pairs), step)]
        if problems:
            units = units or [{"pairs": [], "problems": []}]
            units[0]["problems"] = problems
        return units

    def _folder_pairs(self) -> tuple[list[dict], list[dict]]:
        sides = {}
        for side in ("input", "output"):
            fs, inner, files = list_files(getattr(self.params, side), IMAGE_EXTENSIONS, recursive=True)
            index: dict[str, list[str]] = {}
            for rel in files:
                index.setdefault(posixpath.splitext(rel)[0], []).append(rel)
            sides[side] = (full_path(fs, inner), index)
        (in_root, ins), (out_root, outs) = sides["input"], sides["output"]
        pairs, problems = [], []
        for stem in sorted(set(ins) | set(outs)):
            a, b = ins.get(stem, []), outs.get(stem, [])
            if len(a) > 1 or len(b) > 1:
                for side, files in (("input", a), ("output", b)):
                    problems += [_problem(f"{side}/{f}", "ambiguous_name", f"{a + b} share the name {stem!r}") for f in files]
            elif not a or not b:
                side, rel = ("input", a[0]) if a else ("output", b[0])
                problems.append(_problem(f"{side}/{rel}", "no_partner", f"no {'output' if a else 'input'} image named {stem!r}"))
            else:
                pairs.append({"record": a[0], "input": join(in_root, a[0]), "output": join(out_root, b[0])})
        return pairs, problems

    def _file_pairs(self) -> tuple[list[dict], list[dict]]:
        path = self.params.pairs_file
        assert path is not None
        name = posixpath.basename(path)
        fs, inner = filesystem(path)
        base = full_path(fs, posixpath.dirname(inner))
        text = read_bytes(path).decode("utf-8", errors="replace")
        rows: list[tuple[int, Any]] = []
        problems = []
        if path.lower().endswith((".jsonl", ".ndjson")):
            for n, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append((n, json.loads(line)))
                    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                        problems.append(_problem(f"{name}:{n}", "bad_row", f"not JSON: {exc}"))
        else:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            try:
                for row in reader:
                    rows.append((reader.line_num, row))
            except csv.Error as exc:  # e.g. a field over csv's size limit: what follows is unreadable
                problems.append(_problem(f"{name}:{reader.line_num}", "bad_row", f"not CSV from this line on: {exc}"))
        pairs = []
        for n, row in rows:
            a = row.get("input") if isinstance(row, dict) else None
            b = row.get("output") if isinstance(row, dict) else None
            if not (isinstance(a, str) and a and isinstance(b, str) and b):
                problems.append(_problem(f"{name}:{n}", "missing_field", "a row needs non-empty 'input' and 'output'"))
                continue
            pairs.append({
                "record": f"{name}:{n}",
                "input": a if _is_absolute(a) else join(base, a),
                "output": b if _is_absolute(b) else join(base, b),
            })
        return pairs, problems

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["pairs"]) + len(payload["problems"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        for prob in unit.payload.get("problems", []):
            yield Reject(prob["record"], prob["reason"], prob["detail"])
        for pair in unit.payload["pairs"]:
            record = pair["record"]
            first = read_image_file(pair["input"], record=record)
            if isinstance(first, Reject):
                yield Reject(record, first.reason, f"input {first.detail or pair['input']}")
                continue
            second = read_image_file(pair["output"], record=record)
            if isinstance(second, Reject):
                yield Reject(record, second.reason, f"output {second.detail or pair['output']}")
                continue
            first.meta = {"input": pair["input"], "output": pair["output"]}
            first.views = {self.params.view: second.image}
            yield first
