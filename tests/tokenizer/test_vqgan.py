"""VQGAN API on the tiny preset: shapes, dtypes, determinism, validation, devices."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
import torch

from uvd_pipeline.tokenizer import PRESETS, TINY_CONFIG, VQGAN, VQGANConfig


def test_encode_shape_dtype_and_range(tiny, photos):
    codes = tiny.encode(photos)
    assert codes.shape == (len(photos), 256)
    assert codes.dtype == np.uint16
    assert int(codes.max()) < 8192


def test_empty_batch(tiny):
    codes = tiny.encode(np.zeros((0, 256, 256, 3), np.uint8))
    assert codes.shape == (0, 256) and codes.dtype == np.uint16
    assert tiny.decode(codes).shape == (0, 256, 256, 3)


def test_random_weights_spread_over_many_codes(tiny, photos):
    codes = tiny.encode(photos)
    assert len(np.unique(codes)) >= 300
    assert all(len(np.unique(row)) >= 50 for row in codes)


def test_codes_do_not_depend_on_batch_composition(tiny, photos):
    together = tiny.encode(photos)  # 6 images with batch_size 4: one full + one padded micro-batch
    for i in (0, 3, 5):
        assert np.array_equal(tiny.encode(photos[i:i + 1])[0], together[i]), i
    assert np.array_equal(tiny.encode(photos[::-1]), together[::-1])
    assert np.array_equal(tiny.encode(np.concatenate([photos[:3], photos]))[3:], together)


def test_codes_do_not_depend_on_thread_count(tiny, photos):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tiny.encode(photos)
        torch.set_num_threads(max(2, before))
        many = tiny.encode(photos)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, many)


def test_random_is_deterministic_and_seeded(tiny, photos):
    again = VQGAN.random("tiny", seed=0, device="cpu", batch_size=4)
    other = VQGAN.random("tiny", seed=1, device="cpu", batch_size=4)
    assert again.weights_sha256 == tiny.weights_sha256 != other.weights_sha256
    assert np.array_equal(again.encode(photos[:2]), tiny.encode(photos[:2]))
    assert tiny.sha256 == hashlib.sha256(b"random:tiny:seed0").hexdigest()
    assert other.sha256 == hashlib.sha256(b"random:tiny:seed1").hexdigest()


def test_presets():
    assert set(PRESETS) == {"lvm", "tiny"}
    lvm = PRESETS["lvm"]
    assert (lvm.resolution, lvm.hidden_channels, lvm.channel_mult, lvm.num_res_blocks) == (256, 128, (1, 2, 2, 4, 6), 2)
    assert (lvm.attn_resolutions, lvm.no_attn_mid_block, lvm.z_channels) == ((), True, 64)
    assert (lvm.quantized_embed_dim, lvm.num_embeddings, lvm.num_tokens) == (64, 8192, 256)
    assert TINY_CONFIG.num_tokens == 256 and TINY_CONFIG.num_embeddings == 8192
    with pytest.raises(ValueError, match="unknown VQGAN preset"):
        VQGAN.random("huge")


def test_decode_shape_dtype(tiny, photos):
    codes = tiny.encode(photos[:3])
    images = tiny.decode(codes)
    assert images.shape == (3, 256, 256, 3) and images.dtype == np.uint8
    assert np.array_equal(tiny.decode(codes[1:2])[0], images[1])  # micro-batching again
    assert np.array_equal(tiny.decode(codes.astype(np.int32)), images)


@pytest.mark.parametrize("bad", [
    np.zeros((2, 256, 256, 3), np.float32),            # float pixels
    np.zeros((256, 256, 3), np.uint8),                 # one image without the batch axis
    np.zeros((2, 255, 256, 3), np.uint8),              # wrong size
    np.zeros((2, 256, 256, 4), np.uint8),              # RGBA
    np.zeros((2, 3, 256, 256), np.uint8),              # CHW
    [[0]],                                             # not an array
])
def test_encode_rejects_bad_input(tiny, bad):
    with pytest.raises(ValueError, match="encode expects"):
        tiny.encode(bad)


@pytest.mark.parametrize("bad", [
    np.zeros((2, 255), np.int64),
    np.zeros((256,), np.int64),
    np.zeros((1, 256), np.float32),
    np.full((1, 256), 8192, np.int64),
    np.full((1, 256), -1, np.int64),
])
def test_decode_rejects_bad_input(tiny, bad):
    with pytest.raises(ValueError):
        tiny.decode(bad)


def test_non_contiguous_input_is_fine(tiny, photos):
    flipped = photos[:2, :, ::-1]  # a view with negative strides
    assert np.array_equal(tiny.encode(flipped), tiny.encode(np.ascontiguousarray(flipped)))


def test_device_and_dtype_selection(photos):
    vq = VQGAN.random("tiny", seed=0, device="cpu", batch_size=2)
    assert vq.device.type == "cpu" and vq.dtype == torch.float32
    with pytest.raises(ValueError, match="unsupported dtype"):
        vq.to(dtype="int8")
    with pytest.raises(ValueError, match="unsupported device"):
        vq.to(device="mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            VQGAN.random("tiny", device="cuda")
        assert VQGAN.random("tiny", device="auto").device.type == "cpu"
    # bf16 autocast on CPU works (codes may differ slightly from float32; shapes must not)
    assert vq.to(dtype="bfloat16") is vq and vq.dtype == torch.bfloat16
    codes = vq.encode(photos[:2])
    assert codes.shape == (2, 256) and codes.dtype == np.uint16
    vq.to(dtype="float32")
    assert np.array_equal(vq.encode(photos[:2]), VQGAN.random("tiny", seed=0, device="cpu").encode(photos[:2]))


def test_batch_size_validation():
    with pytest.raises(ValueError, match="batch_size"):
        VQGAN.random("tiny", batch_size=0)


@pytest.mark.parametrize("changes, match", [
    ({"hidden_channels": 48}, "multiples of 32"),
    ({"resolution": 250}, "divisible"),
    ({"num_embeddings": 70000}, "uint16"),
    ({"num_res_blocks": 0, "channel_mult": (1, 2, 2, 2, 2)}, "all 1"),
])
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        TINY_CONFIG.replace(**changes)


def test_config_json_roundtrip():
    cfg = PRESETS["lvm"]
    assert VQGANConfig.from_dict({"_class_name": "VQGANModel", **cfg.to_dict()}) == cfg
    assert VQGANConfig.from_dict({}) == VQGANConfig()  # open-muse defaults for missing fields
    with pytest.warns(UserWarning, match="ignoring unknown"):
        VQGANConfig.from_dict({**cfg.to_dict(), "shiny_new_field": 1})


def test_pickle_roundtrip(tiny, photos):
    clone = pickle.loads(pickle.dumps(tiny))
    assert clone.sha256 == tiny.sha256 and clone.batch_size == tiny.batch_size
    assert np.array_equal(clone.encode(photos[:2]), tiny.encode(photos[:2]))
