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


def _lvm_masked_fraction(rng: np.random.Generator) -> float:
    """The LVM code's inpainting rule, written from its description (DESIGN.md): with p = 0.3 one
    square of side int(U(0.1, 0.5) * 256); else r ~ U(0, 1) and each of the 8 x 8 patches of 32 px
    is kept with probability r. Returns the blacked-out fraction of the image."""
    if rng.random() < 0.3:
        side = int(rng.uniform(0.1, 0.5) * 256)
        return side * side / 256**2
    r = rng.uniform(0, 1)
    kept = rng.random((8, 8)) < r
    return 1.0 - kept.mean()


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the empirical CDFs."""
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def _fractions(p: InpaintingParams, n: int) -> np.ndarray:
    return np.array([inpainting_mask(np.random.default_rng(seed), p).mean() for seed in range(n)])


N_DRAWS = 3000
KS_CRITICAL = 1.95 * np.sqrt(2 / N_DRAWS)  # two-sample KS at alpha = 0.001


def test_inpainting_masked_fraction_follows_the_lvm_rule_by_default():
    ours = _fractions(InpaintingParams(), N_DRAWS)
    reference_rng = np.random.default_rng(12345)
    lvm = np.array([_lvm_masked_fraction(reference_rng) for _ in range(N_DRAWS)])
    assert _ks_statistic(ours, lvm) < KS_CRITICAL
    # the patch branch reaches a fully black image, and about a third of the images lose more than
    # half (0.7 x 32/65 = 0.345: the masked count of 64 patches is uniform on 0..64)
    assert ours.max() == 1.0
    assert 0.31 < (ours > 0.5).mean() < 0.38
    assert 0.31 < (lvm > 0.5).mean() < 0.38
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert abs(np.quantile(ours, q) - np.quantile(lvm, q)) < 0.05
    # the earlier capped rule is told apart by the same statistic (the test has power)
    capped = _fractions(InpaintingParams(patch_rule="capped"), N_DRAWS)
    assert _ks_statistic(capped, lvm) > 2 * KS_CRITICAL
    assert capped.max() <= 0.5 + 1e-9 and (capped > 0.25).any()


def test_inpainting_patch_branch_masks_whole_32px_patches_at_an_lvm_ratio():
    squares, patch_counts = 0, []
    for seed in range(600):
        mask = inpainting_mask(np.random.default_rng(seed), InpaintingParams())
        grid = mask.reshape(8, 32, 8, 32).transpose(0, 2, 1, 3).reshape(64, -1)
        patchy = bool((grid.all(axis=1) | ~grid.any(axis=1)).all())
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if rows.size and not patchy:  # the square branch
            h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            assert h == w and mask.sum() == h * w and int(0.1 * 256) <= h < int(0.5 * 256) + 1
            squares += 1
        elif patchy:
            patch_counts.append(int(grid.all(axis=1).sum()))
    assert 0.24 < squares / 600 < 0.36
    counts = np.bincount(patch_counts, minlength=65)
    # uniform on 0..64 under the LVM rule: each half of the range holds about half the draws
    assert abs(counts[:33].sum() / counts.sum() - 33 / 65) < 0.07


def test_inpainting_capped_rule_keeps_the_earlier_range():
    p = InpaintingParams(patch_rule="capped")
    for seed in range(300):
        mask = inpainting_mask(np.random.default_rng(seed), p)
        grid = mask.reshape(8, 32, 8, 32).transpose(0, 2, 1, 3).reshape(64, -1)
        if (grid.all(axis=1) | ~grid.any(axis=1)).all() and not (mask.sum() and _is_square(mask)):
            assert 0.1 - 1 / 64 <= grid.all(axis=1).mean() <= 0.5 + 1 / 64
    narrow = InpaintingParams(patch_rule="capped", mask_ratio=(0.2, 0.3), square_probability=0)
    ratios = [inpainting_mask(np.random.default_rng(s), narrow).mean() for s in range(100)]
    assert min(ratios) >= 0.2 - 1 / 64 and max(ratios) <= 0.3 + 1 / 64


def _is_square(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    return bool(h == w and mask.sum() == h * w and h % 32)


@pytest.mark.parametrize("cls, params", [
    (InpaintingTransform, {"square_side": (0.5, 0.1)}),
    (InpaintingTransform, {"patch_size": 30}),
    (InpaintingTransform, {"mask_ratio": (0.1, 0.5)}),  # a range only the capped rule uses
    (InpaintingTransform, {"patch_rule": "capped", "mask_ratio": (0.6, 0.2)}),
    (InpaintingTransform, {"patch_rule": "other"}),
    (DenoiseTransform, {"sigma": (5, 1)}),
    (LowLightTransform, {"gamma": (0.5, 2)}),
    (LowLightTransform, {"unknown": 1}),
])
def test_bad_params_are_refused(cls, params):
    with pytest.raises(ValidationError):
        cls(**params)
