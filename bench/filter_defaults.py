"""What the built-in filters' default thresholds drop on real photographs and on the sample world.

    python bench/filter_defaults.py [--out /tmp/filter_defaults]

For scikit-image's bundled photographs and every picture a built-in source of the sample world
reads (decoded as the pipeline decodes them): per filter, each score's range and how many images
each default threshold would drop; then image_stats' sharpness against a known blur, and the time
per image of each filter. Prints Markdown for docs/FILTERS.md. nsfw needs the `safety` extra.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from _common import machine
from PIL import Image as PILImage
from PIL import ImageFilter

from uvd_pipeline import registry
from uvd_pipeline.errors import BadInput
from uvd_pipeline.images import decode_image, to_rgb_array
from uvd_pipeline.samples import make_samples
from uvd_pipeline.samples.pictures import rgb8
from uvd_pipeline.stages import SignatureImage

PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
    "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
    "rocket", "text",
)
SAMPLE_PARTS = ["images", "webdataset", "imagenet", "coco", "paired", "dense_maps", "frame_folders", "annotated_videos"]
SAMPLE_GLOBS = ["images/**/*", "imagenet/**/*.JPEG", "coco/images/*", "paired/**/*.png", "dense/images/*", "frames/**/*",
                "vipseg/**/*.jpg", "jhmdb/**/*.png"]


def photos() -> Iterator[SignatureImage]:
    import skimage.data as data

    for name in PHOTOS:
        px = rgb8(getattr(data, name)())
        yield SignatureImage(px, px.shape[1], px.shape[0], name)


def sample_world(root: Path) -> Iterator[SignatureImage]:
    make_samples(root, seed=0, parts=SAMPLE_PARTS)
    found: list[tuple[str, bytes]] = []
    for pattern in SAMPLE_GLOBS:
        found += [(str(p.relative_to(root)), p.read_bytes()) for p in sorted(root.glob(pattern)) if p.is_file()]
    for shard in sorted(root.glob("webdataset/*.tar")):
        with tarfile.open(shard) as tar:
            found += [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith(".jpg")]
    for name, data in found:
        try:
            img = decode_image(data, name)
        except BadInput:
            continue  # the planted broken files
        yield SignatureImage(to_rgb_array(img), img.width, img.height, name)


def drops_table(name: str, images: dict[str, list[SignatureImage]]) -> list[str]:
    f = registry.create("filter", name, {"device": "cpu"} if name == "nsfw" else {})
    f.setup()
    lines = [f"**{name}** (defaults: " + ", ".join(f"{k} = {getattr(f.params, k)}" for k in f.threshold_fields) + ")", "",
             "| images | n | " + " | ".join(f"`{s}` min..max" for s, _ in f.limits.values()) + " | "
             + " | ".join(f"dropped by `{k}`" for k in f.limits) + " | dropped (names) | s / image |",
             "|---" * (3 + 2 * len(f.limits) + 1) + "|"]
    for label, imgs in images.items():
        t0 = time.perf_counter()
        scores = [f.score(im) for im in imgs]
        per = (time.perf_counter() - t0) / len(imgs)
        ranges, counts = [], []
        for field, (score, bound) in f.limits.items():
            values = [s[score] for s in scores]
            ranges.append(f"{min(values):.4g} .. {max(values):.4g}")
            limit = getattr(f.params, field)
            counts.append(str(sum((v < limit) if bound == "min" else (v > limit) for v in values)))
        names = [im.record for im, s in zip(imgs, scores) if f.check(s)]
        lines.append(f"| {label} | {len(imgs)} | " + " | ".join(ranges) + " | " + " | ".join(counts)
                     + f" | {', '.join(names) or '-'} | {per:.4f} |")
    return lines + [""]


def blur_table() -> list[str]:
    import skimage.data as data

    f = registry.create("filter", "image_stats")
    radii = (0, 1, 2, 4, 8, 12)
    lines = ["`laplacian_var` of a photograph blurred with PIL's GaussianBlur(radius), at its own size:", "",
             "| photo | " + " | ".join(f"r = {r}" for r in radii) + " |", "|---" * (len(radii) + 1) + "|"]
    for name in ("astronaut", "coffee", "camera", "chelsea"):
        img = PILImage.fromarray(rgb8(getattr(data, name)()))
        row = []
        for r in radii:
            px = np.asarray(img.filter(ImageFilter.GaussianBlur(r)) if r else img)
            row.append(f"{f.score(SignatureImage(px, img.width, img.height))['laplacian_var']:.1f}")
        lines.append(f"| {name} {img.width}x{img.height} | " + " | ".join(row) + " |")
    return lines + [""]


def draft_table(images: list[SignatureImage]) -> list[str]:
    """laplacian_var of a JPEG draft decode over that of the full decode."""
    f = registry.create("filter", "image_stats")
    ratios = []
    for im in images:
        buf = io.BytesIO()
        PILImage.fromarray(im.pixels).save(buf, format="JPEG", quality=95)
        full = f.score(SignatureImage(to_rgb_array(decode_image(buf.getvalue())), im.width, im.height))["laplacian_var"]
        for request in (256, 512):
            reduced = PILImage.open(io.BytesIO(buf.getvalue()))
            reduced.draft("RGB", (request, request))
            reduced.load()
            if reduced.size != (im.width, im.height) and min(reduced.size) >= 256:
                got = f.score(SignatureImage(np.asarray(reduced.convert("RGB")), im.width, im.height))["laplacian_var"]
                ratios.append(got / full)
    return [f"JPEG draft decodes (shorter side >= 256) over full decodes, `laplacian_var`: {len(ratios)} decodes, "
            f"ratio min {min(ratios):.3f}, median {statistics.median(ratios):.3f}, max {max(ratios):.3f}", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/filter_defaults", help="where the sample world is written")
    args = ap.parse_args()
    sets = {"scikit-image photographs": list(photos()), "sample world pictures": list(sample_world(Path(args.out)))}
    print(f"# Filter defaults — {machine()}, {time.strftime('%Y-%m-%d')}\n")
    for name in ("image_stats", "nsfw"):
        try:
            print("\n".join(drops_table(name, sets)))
        except ImportError as exc:
            print(f"**{name}**: not measured ({exc})\n")
    print("\n".join(blur_table()))
    print("\n".join(draft_table(sets["scikit-image photographs"])))


if __name__ == "__main__":
    main()
