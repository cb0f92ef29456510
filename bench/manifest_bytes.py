"""Benchmark: metadata bytes per sequence, as a share of the token bytes (512 per single image).

Builds one LAION-like work unit (default 10,000 single-image sequences, img2dataset's default
tar size) through the writer's own code (`manifests.writer.manifest_table`, `arrow_bytes`) and
measures the manifest file's size in each form, side by side:

  ipc-plain        Arrow IPC file, uncompressed (the format before issue 17.4)
  ipc-lz4          IPC buffer compression lz4_frame
  ipc-zstd-L       IPC buffer compression zstd at level L (the writer's IPC_LEVEL is the default)
  ipc-zstd-L-dict  the same with the repeated string columns dictionary-encoded
  parquet-zstd     the roll-up's form (reference)

Rows are fabricated, not real LAION rows: sequence and image ids are the pipeline's random
32-hex ids; records are `<tar>/<key>` as the webdataset source writes them; provenance is the
single sequencer's `{"meta": {caption, height, key, url, width}}` with captions drawn from a
Zipf-distributed vocabulary (5-25 words, LAION's median is ~10) and URLs from a few thousand
hosts with path segments and random file names. Real captions and URLs compress at least as
well as these (natural text repeats more than random draws from a vocabulary); treat the
result as an upper bound on the share.

Usage: python bench/manifest_bytes.py [--rows 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine  # noqa: E402

from uvd_pipeline.ids import bytes_id, sequence_id  # noqa: E402
from uvd_pipeline.manifests.writer import IPC_LEVEL, arrow_bytes, manifest_table  # noqa: E402
from uvd_pipeline.types import TOKENS_PER_IMAGE, TokenSequence, WorkUnit  # noqa: E402

DICT_COLUMNS = ("unit", "shard", "source", "category", "task", "split")
_SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "den", "mar", "tel", "ion", "ber", "sha", "qu",
              "est", "ing", "pro", "con", "al", "or", "an", "in", "ex", "st"]


def vocabulary(rng: np.random.Generator, n: int = 30000) -> list[str]:
    words = {"a", "the", "of", "and", "with", "in", "for", "on", "to", "photo", "stock", "image", "vector"}
    while len(words) < n:
        words.add("".join(rng.choice(_SYLLABLES, size=rng.integers(1, 5))))
    return sorted(words)


def laion_like_unit(rows: int, seed: int) -> tuple[WorkUnit, list[TokenSequence]]:
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    hosts = [f"{'cdn' if i % 3 else 'www'}.{vocab[int(rng.integers(len(vocab)))]}{i}.{['com', 'net', 'org', 'de', 'co.uk'][i % 5]}"
             for i in range(3000)]
    host_p = 1.0 / np.arange(1, len(hosts) + 1) ** 0.8
    host_p /= host_p.sum()
    unit = WorkUnit(id="laion-000123", source="laion", index=123, payload={})
    tar = "laion/00123.tar"
    tokens = np.zeros(TOKENS_PER_IMAGE, np.uint16)
    sequences = []
    for i in range(rows):
        key = f"00123{i:04d}"
        image_id = bytes_id(rng.bytes(64))
        caption = " ".join(vocab[j] for j in rng.choice(len(vocab), size=int(rng.integers(5, 26)), p=zipf))
        host = hosts[int(rng.choice(len(hosts), p=host_p))]
        path = "/".join(vocab[int(j)] for j in rng.integers(0, len(vocab), size=int(rng.integers(1, 4))))
        url = f"https://{host}/{path}/{rng.bytes(8).hex()}.jpg"
        w, h = int(rng.integers(256, 2048)), int(rng.integers(256, 2048))
        meta = {"caption": caption, "height": h, "key": key, "url": url, "width": w}
        sequences.append(TokenSequence(
            id=sequence_id("single", "1", {}, [image_id]), index=i, task="image", image_ids=[image_id],
            records=[f"{tar}/{key}"], provenance={"meta": meta}, split="train", tokens=tokens,
        ))
    return unit, sequences


def _entropy_bits(p: np.ndarray) -> float:
    return float(-(p * np.log2(p)).sum())


def generator_bytes_per_row(vocab_size: int = 30000, hosts: int = 3000) -> float:
    """The information in one fabricated row, in bytes: the entropy of the random choices
    `laion_like_unit` makes (everything else in a row is derived from them: the sequence id from
    the image id, the record from the key). No lossless encoding of these rows can be smaller on
    average, whatever the format."""
    zipf = 1.0 / np.arange(1, vocab_size + 1)
    host_p = 1.0 / np.arange(1, hosts + 1) ** 0.8
    bits = (
        128  # image id: 128 bits of hash
        + np.log2(21) + 15 * _entropy_bits(zipf / zipf.sum())  # caption: 5-25 words (mean 15), Zipf
        + _entropy_bits(host_p / host_p.sum())  # URL host
        + np.log2(3) + 2 * np.log2(vocab_size)  # URL path: 1-3 uniform words (mean 2)
        + 64  # URL file name: 8 random bytes
        + 2 * np.log2(2048 - 256)  # width, height
    )
    return bits / 8


def dict_encoded(table: pa.Table) -> pa.Table:
    for name in DICT_COLUMNS:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, pa.field(name, pa.dictionary(pa.int32(), pa.string()), nullable=False),
                                 table.column(name).dictionary_encode())
    return table


def parquet_bytes(table: pa.Table) -> int:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    unit, sequences = laion_like_unit(args.rows, args.seed)
    table = manifest_table(unit, sequences, "shards/laion-000123-0123456789abcdef.npy", "unlabelled_images")
    token_bytes = args.rows * TOKENS_PER_IMAGE * 2
    forms = {
        "ipc-plain": lambda: len(arrow_bytes(table)),
        "ipc-lz4": lambda: len(arrow_bytes(table, "lz4")),
        "ipc-zstd-3": lambda: len(arrow_bytes(table, "zstd", 3)),
        f"ipc-zstd-{IPC_LEVEL}": lambda: len(arrow_bytes(table, "zstd", IPC_LEVEL)),
        f"ipc-zstd-{IPC_LEVEL}-dict": lambda: len(arrow_bytes(dict_encoded(table), "zstd", IPC_LEVEL)),
        "ipc-zstd-19": lambda: len(arrow_bytes(table, "zstd", 19)),
        "parquet-zstd": lambda: parquet_bytes(table),
    }
    results = {}
    for name, size in forms.items():
        t = time.perf_counter()
        n = size()
        seconds = time.perf_counter() - t
        results[name] = {"bytes": n, "bytes_per_row": round(n / args.rows, 1),
                         "share_of_tokens": round(n / token_bytes, 4), "write_s": round(seconds, 3)}
    t = time.perf_counter()
    data = arrow_bytes(table, "zstd", IPC_LEVEL)
    back = pa.ipc.open_file(pa.py_buffer(data)).read_all()
    read_s = time.perf_counter() - t
    assert back.equals(table), "zstd IPC file did not read back equal"
    columns = {f.name: round(table.column(f.name).nbytes / args.rows, 1) for f in table.schema}
    print(json.dumps({
        "bench": "manifest_bytes", "rows": args.rows, "token_bytes_per_row": TOKENS_PER_IMAGE * 2,
        "forms": results, "raw_column_bytes_per_row": columns, "zstd_read_back_s": round(read_s, 3),
        "generator_entropy_bytes_per_row": round(generator_bytes_per_row(), 1),
        "generator_entropy_share_of_tokens": round(generator_bytes_per_row() / (TOKENS_PER_IMAGE * 2), 4),
        "machine": machine(), "load": load_average(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }, indent=1))


if __name__ == "__main__":
    main()
