import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.transforms.corruptions import (
    GRAY_WEIGHTS,
    ColorizationTransform,
    DenoiseTransform,
    InpaintingParams,
    InpaintingTransform,
    LowLightTransform,
    inpainting_mask,
)


@pytest.fixture
def pixels():
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)


def test_colorization_is_the_lvm_weighted_gray_in_three_channels(pixels):
    out = ColorizationTransform().apply(pixels, np.random.default_rng(0))
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    r, g, b = (int(v) for v in pixels[3, 7])
    assert out[3, 7, 0] == round(0.2989 * r + 0.5870 * g + 0.1140 * b)
    assert GRAY_WEIGHTS == (0.2989, 0.5870, 0.1140)
    white = ColorizationTransform().apply(np.full((4, 4, 3), 255, np.uint8), np.random.default_rng(0))
    assert white.max() == 255  # weights sum to 0.9999: rounded, not truncated


def test_inpainting_masks_only_with_black_and_is_seeded(pixels):
    t = InpaintingTransform()
    a = t.apply(pixels, np.random.default_rng(1))
    b = t.apply(pixels, np.random.default_rng(1))
    c = t.apply(pixels, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    changed = (a != pixels).any(axis=2)
    assert changed.any()
    assert (a[changed] == 0).all()
    assert np.array_equal(a[~changed], pixels[~changed])


def test_inpainting_draws_a_square_30_percent_of_the_time_else_32px_patches():
    p = InpaintingParams()
    squares = 0
    for seed in range(400):
        mask = inpainting_mask(np.random.default_rng(seed), p)
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        is_square = h == w and mask.sum() == h * w
        grid = mask.reshape(8, 32, 8, 32).transpose(0, 2, 1, 3).reshape(64, -1)
        patchy = ((grid.all(axis=1)) | (~grid.any(axis=1))).all()
        if is_square and not (patchy and h % 32 == 0):
            squares += 1
            assert int(0.1 * 256) <= h < int(0.5 * 256) + 1
        else:
            assert patchy  # whole 32x32 patches only
            ratio = grid.all(axis=1).mean()
            assert 0.1 - 1 / 64 <= ratio <= 0.5 + 1 / 64
    assert 0.22 < squares / 400 < 0.38


def test_denoise_adds_zero_mean_noise_within_the_sigma_range(pixels):
    grey = np.full((256, 256, 3), 128, np.uint8)
    out = DenoiseTransform(sigma=(20, 20)).apply(grey, np.random.default_rng(0))
    diff = out.astype(float) - 128
    assert abs(diff.mean()) < 0.5 and 19 < diff.std() < 21
    assert np.array_equal(DenoiseTransform().apply(pixels, np.random.default_rng(3)),
                          DenoiseTransform().apply(pixels, np.random.default_rng(3)))


def test_low_light_darkens(pixels):
    out = LowLightTransform().apply(pixels, np.random.default_rng(0))
    assert out.mean() < pixels.mean() * 0.5
    quiet = LowLightTransform(gamma=(2, 2), brightness=(1, 1), sigma=(0, 0)).apply(pixels, np.random.default_rng(0))
    expected = np.rint(255 * (pixels / 255.0) ** 2).astype(np.uint8)
    assert np.array_equal(quiet, expected)


@pytest.mark.parametrize("cls, params", [
    (InpaintingTransform, {"square_side": (0.5, 0.1)}),
    (InpaintingTransform, {"patch_size": 30}),
    (DenoiseTransform, {"sigma": (5, 1)}),
    (LowLightTransform, {"gamma": (0.5, 2)}),
    (LowLightTransform, {"unknown": 1}),
])
def test_bad_params_are_refused(cls, params):
    with pytest.raises(ValidationError):
        cls(**params)
