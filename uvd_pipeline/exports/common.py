"""What every export shares: which sequences (split), how often (the recipe's `repeat`), in what
order, and the special ids around them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..manifests.reader import Dataset
from ..manifests.schema import RECIPE_FILE

CODEBOOK_SIZE = 8192
#: LVM's vocabulary: 8192 VQGAN codes + 100 special ids; BOS and EOS are the first two specials.
DEFAULT_VOCAB_SIZE = 8292
DEFAULT_BOS = 8192
DEFAULT_EOS = 8193
SPLIT_CHOICES = ("train", "test", "all")
OnUnit = Callable[[int, int], None]  # progress callback: (units done, units in all)


@dataclass
class ExportSummary:
    path: str
    sequences: int = 0
    tokens: int = 0  # written, special ids included
    by_source: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def check_special(bos: int | None, eos: int | None, vocab_size: int = DEFAULT_VOCAB_SIZE, max_id: int | None = None) -> None:
    for name, value in (("bos", bos), ("eos", eos)):
        if value is None:
            continue
        if not CODEBOOK_SIZE <= value < vocab_size:
            raise ValueError(f"--{name} {value}: special ids lie in [{CODEBOOK_SIZE}, {vocab_size}) so they never clash with codes")
        if max_id is not None and value > max_id:
            raise ValueError(f"--{name} {value}: does not fit this format (max {max_id})")


def source_repeats(ds: Dataset) -> dict[str, int]:
    """`repeat` per source from the dataset's resolved recipe (1 where absent)."""
    import yaml

    if not ds.store.exists(RECIPE_FILE):
        return {}
    recipe = (yaml.safe_load(ds.store.read_text(RECIPE_FILE)) or {}).get("recipe", {})
    return {s["name"]: int(s.get("repeat", 1)) for s in recipe.get("sources", [])}


_ROW_COLUMNS = ["sequence_id", "unit", "index", "shard", "offset", "n_tokens", "source", "split"]


def _check_split(split: str) -> None:
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")


def _unit_rows(manifest: Any, split: str) -> list[dict[str, Any]]:
    rows = [r for r in manifest.select(_ROW_COLUMNS).to_pylist() if split == "all" or r["split"] == split]
    return sorted(rows, key=lambda r: r["index"])


def iter_selected_rows(ds: Dataset, split: str = "train") -> Iterator[dict[str, Any]]:
    """Manifest rows of `split` ("all" for every split) in (unit, index) order, one unit in memory."""
    _check_split(split)
    for manifest in ds.iter_tables("manifest"):
        yield from _unit_rows(manifest, split)


def selected_rows(ds: Dataset, split: str = "train") -> list[dict[str, Any]]:
    """iter_selected_rows as a list (the PyTorch dataset indexes every row)."""
    return list(iter_selected_rows(ds, split))


def iter_export(
    ds: Dataset, split: str = "train", repeat: bool = True, on_unit: OnUnit | None = None
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(row, tokens) in passes: pass k holds every sequence whose source repeats more than k times,
    so repeated sequences are spread over the file rather than written side by side. Each pass
    walks the dataset unit by unit, so memory holds one unit whatever the dataset's size.
    `on_unit(done, total)` is called after each unit of each pass (progress)."""
    _check_split(split)
    repeats = source_repeats(ds) if repeat else {}
    passes = max(repeats.values(), default=1)
    total, done = passes * ds.unit_count, 0
    for k in range(passes):
        for _, manifest, tokens in ds.iter_units():
            for r in _unit_rows(manifest, split):
                if repeats.get(r["source"], 1) > k:
                    yield r, tokens[r["offset"] : r["offset"] + r["n_tokens"]]
            done += 1
            if on_unit:
                on_unit(done, total)


def with_specials(tokens: np.ndarray, bos: int | None, eos: int | None, dtype: Any) -> np.ndarray:
    parts = []
    if bos is not None:
        parts.append(np.array([bos], dtype))
    parts.append(np.asarray(tokens, dtype))
    if eos is not None:
        parts.append(np.array([eos], dtype))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
