"""`image_stats` on real photographs and the sample world's pictures: the defaults drop none of
them, each threshold drops what it is for with a detail naming it, and the pixel scores do not
depend on how far the decoder reduced the image."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from uvd_pipeline import registry
from uvd_pipeline.errors import BadInput
from uvd_pipeline.filters.image_stats import NORMALIZED_SIZE, ImageStatsFilter, image_statistics, laplacian_variance
from uvd_pipeline.images import decode_image, to_rgb_array
from uvd_pipeline.samples import make_samples
from uvd_pipeline.samples.pictures import rgb8
from uvd_pipeline.stages import MissingScoreError, SignatureImage

#: scikit-image's photographs that ship inside its wheel (no download)
SKIMAGE_PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
    "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
    "rocket", "text",
)


def _signature(pixels: np.ndarray, record: str) -> SignatureImage:
    return SignatureImage(pixels, width=pixels.shape[1], height=pixels.shape[0], record=record)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    data = pytest.importorskip("skimage.data")
    return {name: rgb8(getattr(data, name)()) for name in SKIMAGE_PHOTOS}


def test_the_defaults_drop_none_of_the_bundled_photographs(photos):
    f = registry.create("filter", "image_stats")
    dropped = {name: f.check(f.score(_signature(px, name))) for name, px in photos.items()}
    assert len(dropped) == len(SKIMAGE_PHOTOS)
    assert {k: v for k, v in dropped.items() if v} == {}


def _sample_world_pictures(root: Path):
    """Every picture a built-in source of the sample world reads, decoded as the pipeline does."""
    globs = ["images/**/*", "imagenet/**/*.JPEG", "coco/images/*", "paired/**/*.png", "dense/images/*", "frames/**/*"]
    for pattern in globs:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                yield str(path.relative_to(root)), path.read_bytes()
    for shard in sorted(root.glob("webdataset/*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".jpg"):
                    yield member.name, tar.extractfile(member).read()


def test_the_defaults_drop_only_the_sample_worlds_white_16_bit_pictures(samples, tmp_path):
    make_samples(tmp_path, seed=0, parts=["imagenet", "coco", "paired", "dense_maps", "frame_folders"])
    f = ImageStatsFilter()
    scored, dropped = 0, {}
    for root in (samples, tmp_path):
        for name, data in _sample_world_pictures(root):
            try:
                img = decode_image(data, name)
            except BadInput:
                continue  # the sample world's planted broken files
            verdict = f.check(f.score(SignatureImage(to_rgb_array(img), img.width, img.height, name)))
            scored += 1
            if verdict:
                dropped[name] = verdict
    assert scored > 400
    # the only drops: the 16-bit grey PNGs of images/, which LVM's convert('RGB') clips to white
    # (README, "16-bit images"); a blank image is what min_std is for
    assert dropped and all(why == "image_stats: std 0.0 < min_std 2.0" for why in dropped.values()), dropped
    assert set(dropped) == {n for n, data in _sample_world_pictures(samples) if _is_16_bit_grey(data)}


def _is_16_bit_grey(data: bytes) -> bool:
    from io import BytesIO

    from PIL import Image as PILImage

    try:
        with PILImage.open(BytesIO(data)) as im:
            return im.mode.startswith("I;16")
    except Exception:  # the sample world's planted broken files
        return False


def test_each_threshold_drops_what_it_is_for_and_names_itself():
    f = registry.create("filter", "image_stats", {"min_side": 64, "max_aspect_ratio": 3, "min_std": 5, "min_sharpness": 20})
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ramp = np.repeat(np.linspace(0, 255, 256)[None, :, None], 3, axis=2).repeat(256, axis=0).astype(np.uint8)
    cases = {
        "image_stats: short_side 48.0 < min_side 64.0": SignatureImage(photo, 64, 48, "small.jpg"),
        "image_stats: aspect_ratio 4.0 > max_aspect_ratio 3.0": SignatureImage(photo, 1024, 256, "wide.jpg"),
        "image_stats: std 0.0 < min_std 5.0": SignatureImage(np.full((64, 64, 3), 7, np.uint8), 640, 640, "black.jpg"),
        "image_stats: laplacian_var 0.0078 < min_sharpness 20.0": SignatureImage(ramp, 512, 512, "ramp.png"),
    }
    for detail, image in cases.items():
        assert f.check(f.score(image)) == detail
    assert f.check(f.score(SignatureImage(photo, 640, 640, "noise.jpg"))) is None
    off = ImageStatsFilter(min_side=None, max_aspect_ratio=None, min_std=None, min_sharpness=None)
    assert all(off.check(off.score(image)) is None for image in cases.values())


def test_size_scores_come_from_the_original_size_not_the_pixels():
    pixels = np.zeros((30, 40, 3), np.uint8)
    scores = ImageStatsFilter().score(SignatureImage(pixels, width=4000, height=3000, record="big.jpg"))
    assert scores["short_side"] == 3000.0 and scores["aspect_ratio"] == pytest.approx(4 / 3)
    assert scores["aspect_ratio"] == ImageStatsFilter().score(SignatureImage(pixels, 3000, 4000))["aspect_ratio"]


def test_the_pixel_scores_do_not_depend_on_the_jpeg_draft_reduction(photos):
    """The contract's reduced decode: JPEG draft mode at 1/2 .. 1/8, so long as the reduced image
    keeps at least NORMALIZED_SIZE pixels a side (the area average composes)."""
    compared = 0
    for name in ("retina", "hubble_deep_field", "astronaut", "camera", "cell"):
        buf = io.BytesIO()
        PILImage.fromarray(photos[name]).save(buf, format="JPEG", quality=95)
        full = decode_image(buf.getvalue(), name)
        base = image_statistics(to_rgb_array(full), full.width, full.height)
        for request in (NORMALIZED_SIZE, 2 * NORMALIZED_SIZE):
            reduced = PILImage.open(io.BytesIO(buf.getvalue()))
            reduced.draft("RGB", (request, request))
            reduced.load()
            if reduced.size == full.size or min(reduced.size) < NORMALIZED_SIZE:
                continue
            got = image_statistics(to_rgb_array(reduced), full.width, full.height)
            assert got["short_side"] == base["short_side"] and got["aspect_ratio"] == base["aspect_ratio"]
            assert got["laplacian_var"] == pytest.approx(base["laplacian_var"], rel=0.10), (name, reduced.size)
            assert got["std"] == pytest.approx(base["std"], rel=0.02) and got["mean"] == pytest.approx(base["mean"], abs=1.0)
            compared += 1
    assert compared >= 5


def test_blur_lowers_the_laplacian_variance_monotonically(photos):
    img = PILImage.fromarray(photos["astronaut"])
    values = [image_statistics(np.asarray(img.filter(ImageFilter.GaussianBlur(r))), 512, 512)["laplacian_var"]
              for r in (0.01, 1, 2, 4, 8)]
    assert values == sorted(values, reverse=True) and values[0] > 50 * values[-1]


def test_laplacian_of_known_images():
    assert laplacian_variance(np.full((8, 8), 9.0)) == 0.0
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0  # Laplacian: -4 at the centre, 1 at its four neighbours, 0 elsewhere
    assert laplacian_variance(impulse) == pytest.approx(np.var([-4.0, 1, 1, 1, 1] + [0.0] * 20))


def test_thresholds_stay_out_of_the_score_identity_and_apply_to_stored_scores():
    lax, strict = ImageStatsFilter(), ImageStatsFilter(min_side=1000)
    assert lax.score_identity() == strict.score_identity() == ["image_stats", "1", {}]
    stored = lax.score(SignatureImage(np.full((50, 50, 3), 90, np.uint8) + np.eye(50, dtype=np.uint8)[:, :, None] * 60, 800, 600))
    assert lax.check(stored) is None
    assert strict.check(stored) == "image_stats: short_side 600.0 < min_side 1000.0"


def test_a_missing_score_is_a_clear_error():
    with pytest.raises(MissingScoreError, match="image_stats: no score 'laplacian_var' for threshold min_sharpness"):
        ImageStatsFilter().check({"short_side": 100.0, "aspect_ratio": 1.0, "mean": 9.0, "std": 9.0})
    # with that threshold off, the score is not needed
    assert ImageStatsFilter(min_sharpness=None).check({"short_side": 100.0, "aspect_ratio": 1.0, "std": 9.0}) is None


def test_malformed_pixels_are_bad_input():
    with pytest.raises(BadInput) as bad:
        ImageStatsFilter().score(SignatureImage(np.zeros((4, 4), np.uint8), 4, 4, "grey2d.png"))
    assert bad.value.reason == "bad_pixels" and "grey2d.png" in bad.value.detail
    with pytest.raises(BadInput, match="bad_size"):
        ImageStatsFilter().score(SignatureImage(np.zeros((4, 4, 3), np.uint8), 0, 4, "empty.png"))
