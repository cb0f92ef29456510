"""`uvd export --shuffle --seed S`: a seeded global permutation of the export's lines, computed
with at most a bucket's worth of lines in memory."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter

import pytest

from tests.audit.worlds import small_dataset
from uvd_pipeline.exports import export_lvm_jsonl, read_lvm_jsonl
from uvd_pipeline.exports.shuffle import ShuffleStats, export_lvm_jsonl_shuffled, shuffle_lines


def _lines(n: int, width: int = 40) -> list[str]:
    return [f'{{"tokens": "{i:0{width}d}"}}' for i in range(n)]


def test_a_permutation_same_for_a_seed_different_for_another(tmp_path):
    lines = _lines(5000)
    a = list(shuffle_lines(lines, seed=1, max_bucket_bytes=16 << 10, tmp_dir=str(tmp_path)))
    b = list(shuffle_lines(iter(lines), seed=1, max_bucket_bytes=16 << 10, tmp_dir=str(tmp_path)))
    c = list(shuffle_lines(lines, seed=2, max_bucket_bytes=16 << 10, tmp_dir=str(tmp_path)))
    assert sorted(a) == sorted(c) == lines  # every line once
    assert a == b and a != c and a != lines
    assert list(tmp_path.iterdir()) == []  # scratch files are removed


def test_memory_is_bounded_by_the_bucket_cap(tmp_path):
    lines = _lines(20000)  # ~1 MB of lines
    cap = 32 << 10
    stats = ShuffleStats()
    out = list(shuffle_lines(lines, seed=3, expected_bytes=sum(len(x) + 1 for x in lines), max_bucket_bytes=cap,
                             tmp_dir=str(tmp_path), stats=stats))
    assert sorted(out) == lines and stats.lines == 20000
    assert stats.max_loaded_bytes <= cap
    assert stats.buckets >= 1_000_000 // cap
    assert sum(stats.bucket_bytes) == sum(len(x) + 1 for x in lines)


def test_too_few_buckets_are_split_again_and_stay_bounded(tmp_path):
    """With 4 files open at most and no size hint, the first round's buckets are far over the cap:
    each is split again (recursively) before it is loaded."""
    lines = _lines(6000)
    cap = 8 << 10
    stats = ShuffleStats()
    out = list(shuffle_lines(lines, seed=4, max_bucket_bytes=cap, max_open_files=4, tmp_dir=str(tmp_path), stats=stats))
    assert sorted(out) == lines
    assert stats.depth >= 3 and stats.max_loaded_bytes <= cap


def test_every_order_is_equally_likely(tmp_path):
    """Through the bucketed path (a cap below two lines), 3 lines over 600 seeds: the 6 orders
    appear about 100 times each (a hash-only bucketing, or a missing in-bucket shuffle, fails)."""
    lines = ["a" * 10, "b" * 10, "c" * 10]
    counts = Counter(
        tuple(shuffle_lines(lines, seed=s, max_bucket_bytes=15, max_open_files=2, tmp_dir=str(tmp_path)))
        for s in range(600)
    )
    assert set(counts) == set(itertools.permutations(lines))
    chi2 = sum((n - 100) ** 2 / 100 for n in counts.values())
    assert chi2 < 20.5  # p ~ 0.001 for 5 degrees of freedom


def test_lines_with_newlines_are_refused(tmp_path):
    with pytest.raises(ValueError, match="line 2"):
        list(shuffle_lines(["ok", "two\nlines"], seed=0, tmp_dir=str(tmp_path)))


def test_shuffled_export_holds_the_same_sequences_as_the_plain_one(tmp_path_factory, tmp_path):
    ds = small_dataset(tmp_path_factory)
    plain = export_lvm_jsonl(str(ds), str(tmp_path / "plain.jsonl"), split="all", bos=8192, eos=8193)
    stats = ShuffleStats()
    shuffled = export_lvm_jsonl_shuffled(str(ds), str(tmp_path / "s.jsonl"), seed=7, split="all", bos=8192, eos=8193,
                                         max_bucket_bytes=8 << 10, stats=stats)
    assert (shuffled.sequences, shuffled.tokens, shuffled.by_source) == (plain.sequences, plain.tokens, plain.by_source)
    a = (tmp_path / "plain.jsonl").read_text().splitlines()
    b = (tmp_path / "s.jsonl").read_text().splitlines()
    assert sorted(a) == sorted(b) and a != b
    assert stats.buckets > 1 and stats.max_loaded_bytes <= 8 << 10
    decoded = list(read_lvm_jsonl(str(tmp_path / "s.jsonl")))
    assert all(t[0] == 8192 and t[-1] == 8193 for t in decoded)


def test_cli_shuffle_flag(tmp_path_factory, tmp_path):
    ds = small_dataset(tmp_path_factory)

    def export(name: str, *extra: str) -> list[str]:
        path = tmp_path / name
        subprocess.run([sys.executable, "-m", "uvd_pipeline", "export", str(ds), "--format", "lvm-jsonl", "--out", str(path),
                        "--split", "all", *extra], check=True, capture_output=True)
        return path.read_text().splitlines()

    plain = export("plain.jsonl")
    s1 = export("s1.jsonl", "--shuffle", "--seed", "1")
    assert sorted(s1) == sorted(plain) and s1 != plain
    assert export("s1b.jsonl", "--shuffle", "--seed", "1") == s1
    assert export("s2.jsonl", "--shuffle", "--seed", "2") != s1
    bad = subprocess.run([sys.executable, "-m", "uvd_pipeline", "export", str(ds), "--format", "megatron", "--out",
                          str(tmp_path / "m"), "--shuffle"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--shuffle is for --format lvm-jsonl" in bad.stderr
