"""`nsfw` with NudeNet's real bundled model (extra `safety`): a generated image gets a real
probability in [0, 1], the same value NudeNet's own detect() reports for that image file, and
the default threshold drops none of scikit-image's photographs nor the sample world's pictures."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("nudenet", reason="extra 'safety' (nudenet) not installed")

from uvd_pipeline import registry  # noqa: E402
from uvd_pipeline.filters.nsfw import NSFW_MISSING, NUDENET_320N_SHA256, NsfwFilter, nudenet_model  # noqa: E402
from uvd_pipeline.samples.pictures import rgb8  # noqa: E402
from uvd_pipeline.stages import SignatureImage  # noqa: E402
from uvd_pipeline.testing.examples.filters import colour_wheel  # noqa: E402

from .test_image_stats import SKIMAGE_PHOTOS  # noqa: E402


@pytest.fixture(scope="module")
def nsfw() -> NsfwFilter:
    f = registry.create("filter", "nsfw", {"device": "cpu"})
    f.setup()
    return f


def _detect_max(pixels: np.ndarray, tmp_path, classes) -> float:
    """NudeNet's own pipeline on the image written as a PNG file: the best score among `classes`."""
    import cv2
    from nudenet import NudeDetector

    path = tmp_path / "image.png"
    cv2.imwrite(str(path), np.ascontiguousarray(pixels[:, :, ::-1]))
    found = [d["score"] for d in NudeDetector().detect(str(path)) if d["class"] in classes]
    return max(found, default=0.0)


def test_a_generated_image_gets_the_score_nudenets_detect_reports(nsfw, tmp_path):
    wheel = colour_wheel(128)  # the model takes this hue wheel for exposed buttocks
    score = nsfw.score(SignatureImage(wheel, 128, 128, "wheel.png"))
    assert list(score) == ["nsfw"] and isinstance(score["nsfw"], float)
    assert 0.5 < score["nsfw"] < 1.0
    assert score["nsfw"] == pytest.approx(_detect_max(wheel, tmp_path, nsfw.params.classes), abs=1e-5)
    assert nsfw.check(score) == f"nsfw: nsfw {round(score['nsfw'], 4)} > max_nsfw 0.5"


def test_scikit_images_astronaut_face_agrees_with_detect(tmp_path):
    photo = rgb8(pytest.importorskip("skimage.data").astronaut())
    face = registry.create("filter", "nsfw", {"classes": ["FACE_FEMALE"], "device": "cpu"})
    got = face.score(SignatureImage(photo, 512, 512, "astronaut.png"))["nsfw"]
    assert got > 0.5  # a real detection, not a near-zero background probability
    assert got == pytest.approx(_detect_max(photo, tmp_path, ["FACE_FEMALE"]), abs=1e-5)


def test_every_image_gets_a_probability_even_without_a_detection(nsfw):
    rng = np.random.default_rng(0)
    scores = [nsfw.score(SignatureImage(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), 96, 64))["nsfw"] for _ in range(2)]
    assert all(0.0 < s < 0.25 for s in scores) and scores[0] != scores[1]


def test_the_default_drops_none_of_the_bundled_photographs(nsfw):
    data = pytest.importorskip("skimage.data")
    # colorwheel is a test pattern, not a photograph: NudeNet's detect() itself calls it exposed buttocks (0.83)
    photos = [name for name in SKIMAGE_PHOTOS if name != "colorwheel"]
    dropped = {}
    for name in photos:
        px = rgb8(getattr(data, name)())
        verdict = nsfw.check(nsfw.score(SignatureImage(px, px.shape[1], px.shape[0], name)))
        if verdict:
            dropped[name] = verdict
    assert dropped == {}


def test_the_model_is_the_pinned_one_and_classes_are_checked():
    with pytest.raises(ValueError, match=r"320n\.onnx: SHA-256 c15d8273.* is not the pinned 0000"):
        NsfwFilter(model_sha256="0" * 64, device="cpu").setup()
    with pytest.raises(ValueError, match=r"nsfw: classes \['NAKED'\] are not NudeNet classes"):
        NsfwFilter(classes=["NAKED"], device="cpu").setup()
    assert NsfwFilter().score_identity() == ["nsfw", "1", {"classes": list(NsfwFilter().params.classes),
                                                           "model_sha256": NUDENET_320N_SHA256, "device": "auto"}]


def test_a_missing_nudenet_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nudenet.nudenet", None)  # what `import` sees when it is not installed
    with pytest.raises(ImportError) as err:
        nudenet_model()
    assert str(err.value) == NSFW_MISSING and "extra 'safety'" in NSFW_MISSING
