"""A seeded global shuffle of an export, in bounded memory (what the LVM release did with
`cat *.jsonl | terashuf`).

Two passes over local scratch disk:

1. every line is appended to one of K bucket files, the bucket drawn uniformly at random from a
   generator seeded with `seed` (lines come in the export's fixed (unit, index) order);
2. bucket by bucket, the bucket's lines are loaded, shuffled with a generator seeded from
   (`seed`, bucket path) and written out.

Uniform buckets followed by a uniform shuffle of each bucket give a uniformly random permutation
of all lines. K is chosen so an average bucket holds half of `max_bucket_bytes`; a bucket that
still comes out larger (bad luck, or more buckets than `max_open_files` allows) is split again the
same way before it is loaded, so no more than `max_bucket_bytes` (or one line, if a line is
larger) is ever held in memory. The order depends only on the lines, `seed`, `max_bucket_bytes`
and `max_open_files`: the same command gives the same file.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import fsspec
import numpy as np

from ..manifests.reader import Dataset
from .common import ExportSummary, OnUnit, check_special, iter_export, with_specials
from .lvm_jsonl import encode_line

DEFAULT_MAX_BUCKET_BYTES = 1 << 30  # 1 GiB of lines in memory at most
DEFAULT_MAX_OPEN_FILES = 256
_DRAW = 1 << 16  # bucket draws per generator call
_MAX_DEPTH = 16


@dataclass
class ShuffleStats:
    lines: int = 0
    buckets: int = 0  # buckets loaded into memory (after any re-splitting)
    splits: int = 0  # bucket files written in all rounds
    max_loaded_bytes: int = 0  # the most bytes of lines held at once in pass 2
    depth: int = 0  # rounds of splitting (1: no bucket needed re-splitting)
    bucket_bytes: list[int] = field(default_factory=list)


def shuffle_lines(
    lines: Iterable[str],
    seed: int,
    *,
    expected_bytes: int | None = None,
    max_bucket_bytes: int = DEFAULT_MAX_BUCKET_BYTES,
    max_open_files: int = DEFAULT_MAX_OPEN_FILES,
    tmp_dir: str | None = None,
    stats: ShuffleStats | None = None,
) -> Iterator[str]:
    """Yield `lines` (each without its newline) in a seeded random order, using scratch files
    under `tmp_dir` (default: the system's temp dir) and at most `max_bucket_bytes` of memory
    for lines. `expected_bytes`, when known, sizes the first round's bucket count."""
    if max_bucket_bytes < 1 or max_open_files < 2:
        raise ValueError("max_bucket_bytes must be >= 1 and max_open_files >= 2")
    stats = stats if stats is not None else ShuffleStats()
    with tempfile.TemporaryDirectory(prefix="uvd-shuffle-", dir=tmp_dir) as scratch:
        k = _bucket_count(expected_bytes, max_bucket_bytes, max_open_files)
        paths, sizes = _split(_counted(lines, stats), k, np.random.default_rng([seed, 0]), scratch, "b", stats)
        yield from _drain(paths, sizes, seed, (), max_bucket_bytes, max_open_files, scratch, stats, depth=1)


def _counted(lines: Iterable[str], stats: ShuffleStats) -> Iterator[str]:
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"line {stats.lines + 1}: lines to shuffle cannot hold a newline")
        stats.lines += 1
        yield line


def _bucket_count(expected_bytes: int | None, cap: int, max_open: int) -> int:
    if not expected_bytes:
        return max_open
    return max(1, min(max_open, math.ceil(2 * expected_bytes / cap)))


def _split(
    lines: Iterable[str], k: int, rng: np.random.Generator, scratch: str, stem: str, stats: ShuffleStats
) -> tuple[list[str], list[int]]:
    """Append each line to a uniformly drawn bucket file; returns the files and their sizes."""
    paths = [os.path.join(scratch, f"{stem}-{i:05d}") for i in range(k)]
    sizes = [0] * k
    files = [open(p, "w", encoding="utf-8", newline="\n", buffering=1 << 16) for p in paths]
    try:
        draws = rng.integers(0, k, _DRAW)
        pos = 0
        for line in lines:
            if pos == _DRAW:
                draws, pos = rng.integers(0, k, _DRAW), 0
            b = int(draws[pos])
            pos += 1
            files[b].write(line)
            files[b].write("\n")
            sizes[b] += len(line.encode("utf-8")) + 1
    finally:
        for f in files:
            f.close()
    stats.splits += k
    return paths, sizes


def _drain(
    paths: list[str], sizes: list[int], seed: int, where: tuple[int, ...], cap: int, max_open: int,
    scratch: str, stats: ShuffleStats, depth: int,
) -> Iterator[str]:
    stats.depth = max(stats.depth, depth)
    for i, (path, size) in enumerate(zip(paths, sizes)):
        here = (*where, i)
        if size > cap and depth < _MAX_DEPTH and _more_than_one_line(path):
            k = _bucket_count(size, cap, max_open)
            with open(path, encoding="utf-8", newline="") as f:
                sub_paths, sub_sizes = _split(
                    (line.rstrip("\n") for line in f), k, np.random.default_rng([seed, 1, *here]), scratch,
                    f"b{'-'.join(map(str, here))}", stats,
                )
            os.remove(path)
            yield from _drain(sub_paths, sub_sizes, seed, here, cap, max_open, scratch, stats, depth + 1)
            continue
        with open(path, encoding="utf-8", newline="") as f:
            bucket = [line.rstrip("\n") for line in f]
        os.remove(path)
        stats.buckets += 1
        stats.bucket_bytes.append(size)
        stats.max_loaded_bytes = max(stats.max_loaded_bytes, size)
        order = np.random.default_rng([seed, 2, *here]).permutation(len(bucket))
        for j in order:
            yield bucket[j]
        del bucket


def _more_than_one_line(path: str) -> bool:
    with open(path, encoding="utf-8", newline="") as f:
        return bool(f.readline()) and bool(f.readline())


def export_lvm_jsonl_shuffled(
    root: str,
    out: str,
    seed: int,
    split: str = "train",
    bos: int | None = None,
    eos: int | None = None,
    repeat: bool = True,
    max_bucket_bytes: int = DEFAULT_MAX_BUCKET_BYTES,
    tmp_dir: str | None = None,
    stats: ShuffleStats | None = None,
    on_unit: OnUnit | None = None,
    check_hashes: bool = True,
) -> ExportSummary:
    """The LVM JSONL export (exports.lvm_jsonl) with every line, repeats included, in one seeded
    global order: ready for the trainer as is."""
    check_special(bos, eos)
    ds = Dataset(root, check_hashes=check_hashes)
    summary = ExportSummary(out, files=[out])
    specials = (bos is not None) + (eos is not None)

    def lines() -> Iterator[str]:
        for row, tokens in iter_export(ds, split, repeat, on_unit):
            tokens = with_specials(tokens, bos, eos, "<i4")
            summary.sequences += 1
            summary.tokens += int(tokens.size)
            summary.by_source[row["source"]] = summary.by_source.get(row["source"], 0) + 1
            yield encode_line(tokens)

    expected = _expected_jsonl_bytes(ds, split, repeat, specials)
    with fsspec.open(out, "wt", compression="infer", encoding="utf-8") as f:
        for line in shuffle_lines(lines(), seed, expected_bytes=expected, max_bucket_bytes=max_bucket_bytes,
                                  tmp_dir=tmp_dir, stats=stats):
            f.write(line + "\n")
    return summary


def _expected_jsonl_bytes(ds: Dataset, split: str, repeat: bool, specials: int) -> int:
    """Bytes of the JSONL lines, from the manifest alone: base64 of 4 bytes per token + framing."""
    from .common import iter_selected_rows, source_repeats

    repeats = source_repeats(ds) if repeat else {}
    total = 0
    for r in iter_selected_rows(ds, split):
        n = r["n_tokens"] + specials
        total += (4 * math.ceil(4 * n / 3) + 16) * repeats.get(r["source"], 1)
    return total
