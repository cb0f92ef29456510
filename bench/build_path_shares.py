"""Where the single-image build path spends its time: py-spy samples of bench/build_path.py's
pipeline path (or its bare loop), grouped into parts (decode, resize, copies, read, commit, ...),
as shares of the samples. Shares do not depend on the machine's load the way the ratio does.

Usage (py-spy installed anywhere, e.g. `pip install py-spy` in a scratch venv):
  py-spy record -r 250 -f raw -o pipe.txt -- python bench/build_path_shares.py run pipe --images 200 --rounds 6
  py-spy record -r 250 -f raw -o bare.txt -- python bench/build_path_shares.py run bare --images 200 --rounds 6
  python bench/build_path_shares.py table bare.txt pipe.txt
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
from pathlib import Path

# The first part (in this order) that any frame of a sample's stack matches names the sample.
PARTS = [
    ("full-res PIL->numpy (to_rgb_array)", r"^to_rgb_array|pixels \(uvd_pipeline/types.py"),
    ("full-res numpy->PIL (fromarray)", r"^fromarray"),
    ("EXIF orientation", r"^exif_transpose"),
    ("resize to 256 (PIL bicubic)", r"^Image\.resize \(PIL/Image.py"),
    ("decode (libjpeg)", r"\.load \(PIL/ImageFile.py"),
    ("open + parse header", r"^open \(PIL/Image.py"),
    ("convert('RGB') copy (bare loop)", r"^Image\.convert "),
    ("256 PIL->numpy + copy", r"^preprocess "),
    ("hash of the bytes", r"^bytes_id"),
    ("read file (checked)", r"^read_record_bytes|^check_input"),
    ("tokenizer input assembly", r"^tokenize_with"),
    ("commit (shard, manifest, rejects, ledger)", r"commit_built"),
]
OTHER = "other (build, sequencing, Python)"


def run(mode: str, images: int, rounds: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import build_path as bp

    with tempfile.TemporaryDirectory() as tmp:
        files = bp.make_files(Path(tmp) / "images", images)
        bp.bare_loop(files)  # warm: page cache, imports (pandas, lazily, at the first commit)
        bp.pipeline_path(Path(tmp) / "images", Path(tmp) / "warm", 100)

        def measured() -> None:  # only samples under this frame are counted
            for r in range(rounds):
                if mode == "bare":
                    bp.bare_loop(files)
                else:
                    bp.pipeline_path(Path(tmp) / "images", Path(tmp) / f"out{r}", 100)

        measured()


def shares(path: str) -> tuple[collections.Counter, int]:
    counts: collections.Counter = collections.Counter()
    total = 0
    for line in open(path):
        stack, _, n = line.rstrip().rpartition(" ")
        frames = stack.split(";")
        if not any(f.startswith("measured ") or ".measured " in f for f in frames):
            continue
        total += int(n)
        hit = next((name for name, rx in PARTS if any(re.search(rx, f) for f in frames)), OTHER)
        counts[hit] += int(n)
    return counts, total


def table(paths: list[str]) -> None:
    got = [shares(p) for p in paths]
    print("| part | " + " | ".join(paths) + " |")
    print("|---|" + "---|" * len(paths))
    for name in [n for n, _ in PARTS] + [OTHER]:
        print(f"| {name} | " + " | ".join(f"{100 * c[name] / max(t, 1):.1f} %" for c, t in got) + " |")
    print("| samples | " + " | ".join(str(t) for _, t in got) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("mode", choices=["pipe", "bare"])
    r.add_argument("--images", type=int, default=200)
    r.add_argument("--rounds", type=int, default=6)
    t = sub.add_parser("table")
    t.add_argument("paths", nargs="+")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.mode, args.images, args.rounds)
    else:
        table(args.paths)


if __name__ == "__main__":
    main()
