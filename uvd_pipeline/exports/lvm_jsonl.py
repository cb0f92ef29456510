"""LVM's trainer format: JSONL, one sequence a line, `{"tokens": base64(int32 little-endian)}`.

The LVM trainer (EasyLM-based) decodes each line's tokens and packs them into its context
windows; BOS/EOS may be written here (`bos`, `eos`) or left to the trainer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import fsspec
import numpy as np

from ..manifests.reader import Dataset
from .common import ExportSummary, OnUnit, check_special, iter_export, with_specials


def encode_line(tokens: np.ndarray) -> str:
    return json.dumps({"tokens": base64.b64encode(np.asarray(tokens, "<i4").tobytes()).decode("ascii")})


def decode_line(line: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(json.loads(line)["tokens"]), dtype="<i4")


def export_lvm_jsonl(
    root: str, out: str, split: str = "train", bos: int | None = None, eos: int | None = None, repeat: bool = True,
    on_unit: OnUnit | None = None, check_hashes: bool = True,
) -> ExportSummary:
    """Write the sequences of `split` to `out` (a path or fsspec URL; `.gz` compresses)."""
    check_special(bos, eos)
    ds = Dataset(root, check_hashes=check_hashes)
    summary = ExportSummary(out, files=[out])
    with fsspec.open(out, "wt", compression="infer", encoding="utf-8") as f:
        for row, tokens in iter_export(ds, split, repeat, on_unit):
            line = with_specials(tokens, bos, eos, "<i4")
            f.write(encode_line(line) + "\n")
            summary.sequences += 1
            summary.tokens += int(line.size)
            summary.by_source[row["source"]] = summary.by_source.get(row["source"], 0) + 1
    return summary


def read_lvm_jsonl(path: str) -> Iterator[np.ndarray]:
    """Every line's tokens as int32, in file order."""
    with fsspec.open(path, "rt", compression="infer", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield decode_line(line)
