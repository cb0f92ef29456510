"""The precision comparison that `uvd tokenizer check` and bench/precision.py print."""

import numpy as np
import pytest
import torch

from uvd_pipeline.tokenizer import VQGAN
from uvd_pipeline.tokenizer.fidelity import compare_precisions, photographs, psnr
from uvd_pipeline.tokenizer.vqgan import cuda_tf32


def test_photographs_are_real_and_resized():
    origin, named = photographs(3)
    assert origin == "scikit-image bundled photographs"
    assert [n for n, _ in named] == ["astronaut", "chelsea", "coffee"]
    assert all(p.shape == (256, 256, 3) and p.dtype == np.uint8 for _, p in named)
    assert len({p.tobytes() for _, p in named}) == 3


def test_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 255) == pytest.approx(0.0)
    assert psnr(a, a + 1) == pytest.approx(10 * np.log10(255.0**2))


def test_compare_precisions_reference_first_and_model_restored():
    model = VQGAN.random("tiny", seed=0, device="cpu", batch_size=2)
    pixels = np.stack([p for _, p in photographs(2)[1]])
    reference, bf16 = compare_precisions(model, pixels, ["bfloat16"], decode=False)
    assert reference.dtype == "float32" and reference.agreement == 1.0 and reference.images_identical == 2
    assert bf16.dtype == "bfloat16" and 0.0 <= bf16.agreement <= 1.0
    assert np.isnan(bf16.psnr_db)
    assert model.dtype == torch.float32 and model.tf32 is False
    # float32 with TF32 allowed is float32 on a CPU: every code equal.
    assert compare_precisions(model, pixels, ["float32+tf32"], decode=False)[1].agreement == 1.0


def test_cuda_tf32_sets_and_restores_the_flags():
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = (conv.fp32_precision, matmul.fp32_precision)
    with cuda_tf32(False):
        assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
    with cuda_tf32(True):
        assert (conv.fp32_precision, matmul.fp32_precision) == ("tf32", "tf32")
    with cuda_tf32(None):
        assert (conv.fp32_precision, matmul.fp32_precision) == before
    assert (conv.fp32_precision, matmul.fp32_precision) == before


def test_without_scikit_image_the_fallback_pictures_are_used(monkeypatch):
    import sys

    from PIL import Image

    monkeypatch.setitem(sys.modules, "skimage", None)  # import skimage.data raises ImportError
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(RuntimeError, match="scikit-image is not installed"):
        photographs(2)
    origin, named = photographs(2, fallback=lambda n: [(f"p{i}", Image.new("RGB", (40, 30), (i, 0, 0))) for i in range(n)])
    assert origin.startswith("synthetic") and [n for n, _ in named] == ["p0", "p1"]
    assert named[1][1].shape == (256, 256, 3) and named[1][1][0, 0, 0] == 1
