"""Corruption pairs from any image: colorization, inpainting, denoising and low-light enhancement.

- colorization: gray = RGB . (0.2989, 0.5870, 0.1140), rounded, copied to 3 channels (the LVM rule);
- inpainting: black boxes as in the LVM code: with probability 0.3 one square of side drawn in
  [0.1, 0.5) x 256 at a random place; otherwise a ratio r ~ U(0, 1) is drawn and each 32x32 patch
  is kept with probability r (blacked out with probability 1 - r), so the blacked-out fraction
  spans 0..100 % (`patch_rule: lvm`, the default). `patch_rule: capped` is this project's earlier
  rule: exactly round(U(mask_ratio) x 64) patches (at least one), mask_ratio (0.1, 0.5) by default;
- denoise: additive Gaussian noise, sigma drawn per image;
- low_light: darkening gamma (out = in^gamma, gamma > 1) and a brightness scale, then Gaussian noise.

Every random choice comes from the generator the pipeline passes, which is seeded per image.
"""

from __future__ import annotations

import numpy as np
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages import Transform
from ..types import IMAGE_SIZE

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)
CAPPED_MASK_RATIO = (0.1, 0.5)


def _check(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 uint8 pixels, got {pixels.dtype} {pixels.shape}")
    return pixels


def grayscale(pixels: np.ndarray) -> np.ndarray:
    gray = _check(pixels).astype(np.float64) @ np.asarray(GRAY_WEIGHTS)
    g = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColorizationTransform(Transform):
    """`colorization`: the grey input of a colorization pair."""

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return grayscale(pixels)


class InpaintingParams(_Strict):
    square_probability: float = Field(default=0.3, ge=0, le=1, description="chance of one big square")
    square_side: tuple[float, float] = Field(default=(0.1, 0.5), description="side range, fraction of 256")
    patch_size: int = Field(default=32, ge=1, le=IMAGE_SIZE)
    patch_rule: Literal["lvm", "capped"] = Field(
        default="lvm",
        description="lvm: keep ratio r ~ U(0, 1), each patch kept with probability r; "
        "capped: exactly round(U(mask_ratio) x patches) patches blacked out",
    )
    mask_ratio: tuple[float, float] | None = Field(
        default=None, description=f"patch_rule capped only: range of the masked patch ratio; default {CAPPED_MASK_RATIO}"
    )

    @model_validator(mode="after")
    def _ranges(self) -> InpaintingParams:
        if self.mask_ratio is not None and self.patch_rule != "capped":
            raise ValueError("mask_ratio applies to patch_rule: capped only (the lvm rule draws the ratio from U(0, 1))")
        for name in ("square_side", "mask_ratio"):
            if getattr(self, name) is None:
                continue
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi <= 1:
                raise ValueError(f"{name} must be a range 0 <= low < high <= 1, got {lo}, {hi}")
        if IMAGE_SIZE % self.patch_size:
            raise ValueError(f"patch_size must divide {IMAGE_SIZE}, got {self.patch_size}")
        return self


def inpainting_mask(rng: np.random.Generator, p: InpaintingParams, size: int = IMAGE_SIZE) -> np.ndarray:
    """The boolean H x W mask of pixels to black out."""
    mask = np.zeros((size, size), dtype=bool)
    if rng.random() < p.square_probability:
        side = max(1, int(rng.uniform(*p.square_side) * size))
        top = int(rng.integers(0, size - side + 1))
        left = int(rng.integers(0, size - side + 1))
        mask[top : top + side, left : left + side] = True
        return mask
    grid = size // p.patch_size
    if p.patch_rule == "lvm":
        keep_ratio = rng.uniform(0.0, 1.0)
        masked = rng.random((grid, grid)) >= keep_ratio  # kept with probability keep_ratio
    else:
        n_patches = grid * grid
        n_masked = min(n_patches, max(1, int(round(rng.uniform(*(p.mask_ratio or CAPPED_MASK_RATIO)) * n_patches))))
        masked = np.zeros(n_patches, dtype=bool)
        masked[rng.choice(n_patches, size=n_masked, replace=False)] = True
        masked = masked.reshape(grid, grid)
    return np.repeat(np.repeat(masked, p.patch_size, axis=0), p.patch_size, axis=1)


class InpaintingTransform(Transform):
    """`inpainting`: black boxes over the image (the input of an inpainting pair)."""

    Params = InpaintingParams

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pixels = _check(pixels)
        if pixels.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"inpainting works on {IMAGE_SIZE}x{IMAGE_SIZE} images, got {pixels.shape}")
        out = pixels.copy()
        out[inpainting_mask(rng, self.params)] = 0
        return out


class DenoiseParams(_Strict):
    sigma: tuple[float, float] = Field(default=(10.0, 50.0), description="noise std range, 0..255 scale")

    @model_validator(mode="after")
    def _range(self) -> DenoiseParams:
        lo, hi = self.sigma
        if not 0 <= lo <= hi:
            raise ValueError(f"sigma must be a range 0 <= low <= high, got {lo}, {hi}")
        return self


def add_noise(values: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = values.astype(np.float64) + rng.normal(0.0, sigma, values.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


class DenoiseTransform(Transform):
    """`denoise`: Gaussian noise (the input of a denoising pair)."""

    Params = DenoiseParams

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = float(rng.uniform(*self.params.sigma))
        return add_noise(_check(pixels), sigma, rng)


class LowLightParams(_Strict):
    gamma: tuple[float, float] = Field(default=(2.0, 3.5), description="darkening gamma range (> 1)")
    brightness: tuple[float, float] = Field(default=(0.5, 0.9), description="scale after the gamma")
    sigma: tuple[float, float] = Field(default=(2.0, 8.0), description="noise std range, 0..255 scale")

    @model_validator(mode="after")
    def _ranges(self) -> LowLightParams:
        if not 1.0 <= self.gamma[0] <= self.gamma[1]:
            raise ValueError(f"gamma must be a range 1 <= low <= high, got {self.gamma}")
        if not 0 < self.brightness[0] <= self.brightness[1] <= 1:
            raise ValueError(f"brightness must be a range 0 < low <= high <= 1, got {self.brightness}")
        if not 0 <= self.sigma[0] <= self.sigma[1]:
            raise ValueError(f"sigma must be a range 0 <= low <= high, got {self.sigma}")
        return self


class LowLightTransform(Transform):
    """`low_light`: gamma darkening, a brightness scale and sensor-like noise."""

    Params = LowLightParams

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.params
        gamma = float(rng.uniform(*p.gamma))
        scale = float(rng.uniform(*p.brightness))
        sigma = float(rng.uniform(*p.sigma))
        dark = 255.0 * scale * (_check(pixels).astype(np.float64) / 255.0) ** gamma
        return add_noise(dark, sigma, rng)
