"""`canny_edges`: an edge map from OpenCV's Canny detector; CPU only, no weights."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..types import Item
from .base import Estimator


class CannyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low_threshold: float = Field(default=100.0, ge=0)
    high_threshold: float = Field(default=200.0, ge=0)
    blur_kernel: int = Field(default=3, ge=0, description="odd Gaussian blur kernel before Canny; 0 = none")
    aperture_size: int = Field(default=3, description="Sobel aperture: 3, 5 or 7")
    l2_gradient: bool = False

    @model_validator(mode="after")
    def _check(self) -> CannyParams:
        if self.low_threshold > self.high_threshold:
            raise ValueError("low_threshold must not exceed high_threshold")
        if self.blur_kernel and self.blur_kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be odd or 0, got {self.blur_kernel}")
        if self.aperture_size not in (3, 5, 7):
            raise ValueError(f"aperture_size must be 3, 5 or 7, got {self.aperture_size}")
        return self


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("canny_edges needs OpenCV: pip install 'uvd-pipeline[edges]'") from exc
    return cv2


def canny_edges(pixels: np.ndarray, p: CannyParams | None = None) -> np.ndarray:
    """White edges on black, H x W x 3 uint8, from RGB pixels."""
    p = p or CannyParams()
    cv2 = _cv2()
    gray = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    if p.blur_kernel:
        gray = cv2.GaussianBlur(gray, (p.blur_kernel, p.blur_kernel), 0)
    edges = cv2.Canny(gray, p.low_threshold, p.high_threshold, apertureSize=p.aperture_size, L2gradient=p.l2_gradient)
    return np.repeat(edges[:, :, None], 3, axis=2)


class CannyEstimator(Estimator):
    """The built-in edge estimator, so a recipe gets edges without model weights."""

    Params = CannyParams
    needs_gpu: ClassVar[bool] = False

    def load(self, device: str) -> Any:
        return _cv2()

    def predict(self, pixels: np.ndarray, item: Item) -> np.ndarray:
        return canny_edges(pixels, self.params)

    def draw(self, prediction: np.ndarray, item: Item) -> np.ndarray:
        return prediction
