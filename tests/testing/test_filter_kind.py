"""The conformance suite for filters catches what would break the curation pass: scores that are
not finite Python floats, names that change per image, a missing score that is not an error,
thresholds inside the score identity, an exception on a degenerate image."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from uvd_pipeline.stages import Filter, SignatureImage
from uvd_pipeline.testing import check_filter, conformance
from uvd_pipeline.testing.report import FAIL, PASS


class BrightnessParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_brightness: float | None = 10.0


class Brightness(Filter):
    """A well-behaved filter: mean brightness, one threshold."""

    name = "probe_brightness"
    Params = BrightnessParams
    limits: ClassVar[dict[str, tuple[str, str]]] = {"min_brightness": ("brightness", "min")}

    def score(self, image: SignatureImage) -> dict[str, float]:
        return {"brightness": float(image.pixels.mean())}


def _dark() -> SignatureImage:
    return SignatureImage(np.zeros((8, 8, 3), np.uint8), 8, 8, "dark.png")


def _report(cls, **kw):
    return conformance("filter", cls, tmp_dir=None, fresh_process=False, **kw)


def _failed(report) -> dict[str, str]:
    return {r.name: r.message for r in report.results if r.status == FAIL}


def test_a_well_behaved_filter_passes_and_its_thresholds_stay_out_of_its_identity():
    report = check_filter(Brightness, fresh_process=False)
    assert [r.status for r in report.results] == [PASS] * 7
    assert Brightness().score_identity() == ["probe_brightness", "1", {}]
    assert Brightness.threshold_fields == ("min_brightness",)
    assert Brightness().check({"brightness": 3.25}) == "probe_brightness: brightness 3.25 < min_brightness 10.0"


class NumpyScores(Brightness):
    def score(self, image):
        return {"brightness": np.float32(image.pixels.mean())}


class NanOnBlack(Brightness):
    def score(self, image):
        m = float(image.pixels.mean())
        return {"brightness": float("nan") if m == 0 else m}


class NamesVary(Brightness):
    limits: ClassVar[dict[str, tuple[str, str]]] = {}

    def score(self, image):
        return {f"brightness_{image.pixels.shape[0]}": float(image.pixels.mean())}


class KeepsWhenScoresMissing(Brightness):
    def check(self, scores):
        value = scores.get("brightness")
        return None if value is None or value >= 10 else f"probe_brightness: brightness {value} < 10"


class CrashesOnOnePixel(Brightness):
    def score(self, image):
        if image.pixels.shape[:2] == (1, 1):
            raise ZeroDivisionError("too small")
        return super().score(image)


class ThresholdInIdentity(Brightness):
    def score_identity(self):
        return [self.name, self.version, self.params_dict]


@pytest.mark.parametrize(
    ("cls", "check", "says"),
    [
        (NumpyScores, "outputs", "return a Python float"),
        (NanOnBlack, "bad input", "all black: score 'brightness' is nan"),
        (NamesVary, "outputs", "differ from the first image's"),
        (KeepsWhenScoresMissing, "outputs", "missing must raise an error naming them"),
        (CrashesOnOnePixel, "bad input", "a 1x1 image: ZeroDivisionError: too small"),
        (ThresholdInIdentity, "outputs", "holds threshold fields ['min_brightness']"),
    ],
)
def test_a_broken_filter_fails_the_check_that_names_its_fault(cls, check, says):
    failed = _failed(_report(cls, inputs=None) if cls is not KeepsWhenScoresMissing else _report_with_drop(cls))
    assert check in failed, failed
    assert says in failed[check]


def _report_with_drop(cls):
    images = [_dark(), SignatureImage(np.full((8, 8, 3), 200, np.uint8), 8, 8, "bright.png")]
    return _report(cls, inputs=images)


def test_declared_drop_images_must_be_dropped():
    class Lax(Brightness):
        @classmethod
        def conformance_example(cls, tmp_dir):
            return {"params": {"min_brightness": None}, "drop_images": [_dark()]}

    assert "were kept by check()" in _failed(_report(Lax))["outputs"]


def test_a_limit_on_an_unknown_field_is_reported():
    class Typo(Brightness):
        limits: ClassVar[dict[str, tuple[str, str]]] = {"min_brigthness": ("brightness", "min")}

    assert "not fields of BrightnessParams" in _failed(_report(Typo))["params"]
