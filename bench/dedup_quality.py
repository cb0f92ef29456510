"""Benchmark: how well the curation signatures find planted duplicates on real photographs.

Originals: scikit-image's bundled photographs (and crops of the larger ones into distinct scenes)
plus generated scenes (uvd_pipeline.samples.pictures). Each original gets copies made the way the
web makes them: JPEG re-encoding (quality 30-95), resizing (0.3-2x), cropping up to 10 %, brightness
+-15 %, a light blur and a caption overlay. Every file goes through the signature pass's own path
(reduced JPEG decoding, shrink, the full and nine window pHashes and the tint of
curation/views.py). Two images match at threshold t the way the cluster pass matches them: some
hash of one within t bits of some hash of the other, and tints within the tolerance. For each t
the script prints recall (original-copy pairs that match) and precision (matching pairs that are
really one family), over all pairs of the pool; `--full-only` gives the same curve for the full
hash alone (the signature before windows and tints).

Usage: python bench/dedup_quality.py [--generated 300] [--max-threshold 16]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).parent))
from _common import load_average, machine  # noqa: E402

from uvd_pipeline.curation.signatures import SIGNATURE_SIDE, grey_square, shrink  # noqa: E402
from uvd_pipeline.curation.views import tint, tints_close, view_hashes  # noqa: E402
from uvd_pipeline.images import decode_image, reduced_decoding, to_rgb_array  # noqa: E402
from uvd_pipeline.samples.pictures import picture  # noqa: E402


def originals(n_generated: int) -> list[Image.Image]:
    from skimage import data

    photos = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "page", "text", "immunohistochemistry",
                 "hubble_deep_field", "retina", "colorwheel",
                 "brick", "grass", "gravel", "logo", "clock", "coins", "horse", "cell", "shepp_logan_phantom"):
        fn = getattr(data, name, None)
        if fn is None:
            continue
        try:
            arr = fn()
        except Exception:  # a photograph skimage would have to download: not bundled, skip
            continue
        if arr.dtype != np.uint8:
            arr = (arr.astype(np.float64) / max(1.0, float(arr.max())) * 255).astype(np.uint8)
        img = Image.fromarray(arr).convert("RGB")
        photos.append(img)
        w, h = img.size
        if min(w, h) >= 400:  # the larger photographs give distinct scenes: non-overlapping quarters
            photos += [img.crop((x, y, x + w // 2, y + h // 2)) for x in (0, w // 2) for y in (0, h // 2)]
    rng = np.random.default_rng(0)
    photos += [picture(rng, int(rng.integers(200, 900)), int(rng.integers(200, 900))) for _ in range(n_generated)]
    return photos


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def copies(img: Image.Image, rng: np.random.Generator) -> dict[str, bytes]:
    w, h = img.size
    out = {f"jpeg_q{q}": jpeg(img, q) for q in (30, 50, 70, 95)}
    for f in (0.3, 0.5, 1.5, 2.0):
        out[f"resize_{f}"] = jpeg(img.resize((max(8, round(w * f)), max(8, round(h * f))), Image.BICUBIC))
    for frac in (0.05, 0.10):
        dx, dy = round(w * frac * rng.random()), round(h * frac * rng.random())
        out[f"crop_{int(frac * 100)}pct"] = jpeg(img.crop((dx, dy, w - (round(w * frac) - dx), h - (round(h * frac) - dy))))
    for b in (0.85, 1.15):
        out[f"brightness_{b}"] = jpeg(ImageEnhance.Brightness(img).enhance(b))
    out["blur_r1"] = jpeg(img.filter(ImageFilter.GaussianBlur(1.0)))
    cap = img.copy()
    draw = ImageDraw.Draw(cap)
    band = max(10, h // 9)
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0))
    draw.text((8, h - band + 2), "SALE! visit example shop today", fill=(255, 255, 255))
    out["caption"] = jpeg(cap)
    return out


def signature(data: bytes) -> tuple[list[int], int]:
    """(full hash and window hashes, tint) as the signature pass computes them."""
    with reduced_decoding(SIGNATURE_SIDE):
        pixels = shrink(to_rgb_array(decode_image(data)))
    full, windows = view_hashes(grey_square(pixels))
    return [full, *windows], tint(pixels)


def distances(hashes: np.ndarray, tints: np.ndarray, full_only: bool) -> np.ndarray:
    """Record-to-record distance as the cluster pass sees it: the smallest Hamming distance over
    all pairs of their hashes, 64 (no match at any threshold) where the tints are not close."""
    n, k = hashes.shape
    k = 1 if full_only else k
    best = np.full((n, n), 64, dtype=np.uint8)
    for a in range(k):
        for b in range(k):
            np.minimum(best, popcount(hashes[:, a][:, None] ^ hashes[:, b][None, :]).astype(np.uint8), out=best)
    if not full_only:
        best[~tints_close(tints[:, None], tints[None, :])] = 64
    return best


def popcount(x: np.ndarray) -> np.ndarray:
    """Bits set in each uint64."""
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generated", type=int, default=300)
    ap.add_argument("--max-threshold", type=int, default=16)
    ap.add_argument("--full-only", action="store_true", help="the full hash alone, no windows, no tint")
    args = ap.parse_args()
    start = time.perf_counter()
    rng = np.random.default_rng(1)
    hashes, tints, family, kind = [], [], [], []
    for i, img in enumerate(originals(args.generated)):
        for name, data in {"original": jpeg(img, 92), **copies(img, rng)}.items():
            h, t = signature(data)
            hashes.append(h)
            tints.append(t)
            family.append(i)
            kind.append(name)
    signed = time.perf_counter()
    best = distances(np.array(hashes, dtype=np.uint64), np.array(tints, dtype=np.uint16), args.full_only)
    fam = np.array(family)
    n = len(fam)
    iu, ju = np.triu_indices(n, 1)
    dist = best[iu, ju]
    same = fam[iu] == fam[ju]
    # positives: each copy against its own original
    orig_of = {f: idx for idx, (f, k) in enumerate(zip(family, kind)) if k == "original"}
    pos_idx = [(orig_of[f], idx) for idx, (f, k) in enumerate(zip(family, kind)) if k != "original"]
    pos_d = best[[a for a, _ in pos_idx], [b for _, b in pos_idx]]
    pos_kind = np.array([kind[b] for _, b in pos_idx])
    curve = []
    for t in range(args.max_threshold + 1):
        within = dist <= t
        tp, fp = int((within & same).sum()), int((within & ~same).sum())
        curve.append({
            "threshold": t,
            "recall": round(float((pos_d <= t).mean()), 4),
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "false_pairs": fp,
            "recall_by_copy": {k: round(float((pos_d[pos_kind == k] <= t).mean()), 3) for k in sorted(set(pos_kind))},
        })
    ok = [c["threshold"] for c in curve if c["recall"] >= 0.95 and c["precision"] >= 0.99]
    print(json.dumps({
        "machine": machine(), "load_average": load_average(), "originals": len(orig_of), "images": n,
        "pairs": int(len(dist)), "positive_pairs": len(pos_idx), "rule": "full hash only" if args.full_only else
        "any hash of one within t of any hash of the other, tints close",
        "signature_seconds": round(signed - start, 1), "seconds": round(time.perf_counter() - start, 1),
        "thresholds_meeting_target": ok, "curve": curve,
    }, indent=1))


if __name__ == "__main__":
    main()
