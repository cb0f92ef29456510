"""save_pretrained / from_pretrained: layout, round trips, hashes and clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from uvd_pipeline.tokenizer import VQGAN, CheckpointError, checkpoint_sha256


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_ckpt")
    tiny.save_pretrained(folder, safe_serialization=True)
    return folder


def _copy(src, dst, names):
    dst.mkdir()
    for name in names:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_layout_is_open_muse(saved, tiny):
    assert sorted(os.listdir(saved)) == ["config.json", "model.safetensors", "pytorch_model.bin"]
    config = json.loads((saved / "config.json").read_text())
    assert config["_class_name"] == "VQGANModel"
    for field in ("resolution", "num_channels", "hidden_channels", "channel_mult", "num_res_blocks",
                  "attn_resolutions", "no_attn_mid_block", "z_channels", "num_embeddings",
                  "quantized_embed_dim", "dropout", "resample_with_conv", "commitment_cost"):
        assert field in config
    state = torch.load(saved / "pytorch_model.bin", weights_only=True, map_location="cpu")
    assert sorted(state) == sorted(tiny.state_dict())


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.safetensors"])
def test_roundtrip_gives_identical_codes(saved, tiny, photos, tmp_path, weights):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json", weights])
    loaded = VQGAN.from_pretrained(folder, device="cpu", batch_size=tiny.batch_size)
    assert loaded.source.endswith(weights)
    assert loaded.weights_sha256 == tiny.weights_sha256
    codes = tiny.encode(photos[:3])
    assert np.array_equal(loaded.encode(photos[:3]), codes)
    assert np.array_equal(loaded.decode(codes[:1]), tiny.decode(codes[:1]))


def test_sha256_is_of_files(saved, tmp_path):
    vq = VQGAN.from_pretrained(saved, device="cpu")
    assert vq.sha256 == checkpoint_sha256(saved) and len(vq.sha256) == 64
    assert checkpoint_sha256(saved) == checkpoint_sha256(saved)  # stable
    other = _copy(saved, tmp_path / "other", ["config.json", "pytorch_model.bin"])
    VQGAN.random("tiny", seed=3).save_pretrained(tmp_path / "seed3")
    assert checkpoint_sha256(tmp_path / "seed3") != checkpoint_sha256(other)


def test_missing_config(saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["pytorch_model.bin"])
    with pytest.raises(FileNotFoundError, match="config.json"):
        VQGAN.from_pretrained(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        VQGAN.from_pretrained(tmp_path / "nowhere")


def test_invalid_config(saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["pytorch_model.bin"])
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        VQGAN.from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"hidden_channels": 33}))
    with pytest.raises(ValueError, match="config.json.*hidden_channels"):
        VQGAN.from_pretrained(folder)


def test_missing_weights(saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json"])
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin"):
        VQGAN.from_pretrained(folder)


def test_corrupt_weights(saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json"])
    (folder / "pytorch_model.bin").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        VQGAN.from_pretrained(folder)
    (folder / "pytorch_model.bin").unlink()
    (folder / "model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        VQGAN.from_pretrained(folder)


def test_wrong_keys_are_listed(tiny, saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json"])
    state = tiny.state_dict()
    state.pop("encoder.conv_in.weight")
    state["encoder.extra.weight"] = torch.zeros(1)
    state["quant_conv.bias"] = torch.zeros(5)
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as info:
        VQGAN.from_pretrained(folder)
    message = str(info.value)
    assert "pytorch_model.bin" in message
    assert "missing keys (1): ['encoder.conv_in.weight']" in message
    assert "unexpected keys (1): ['encoder.extra.weight']" in message
    assert "quant_conv.bias" in message and "shape" in message


class _Payload:
    """Unpickling this would create a file: proof that arbitrary code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_arbitrary_objects_is_refused(tiny, saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json"])
    marker = tmp_path / "pwned"
    state = tiny.state_dict()
    state["evil"] = _Payload(str(marker))
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="refused.*|pytorch_model.bin"):
        VQGAN.from_pretrained(folder)
    assert not marker.exists()


def test_non_tensor_entries_refused(tiny, saved, tmp_path):
    folder = _copy(saved, tmp_path / "ckpt", ["config.json"])
    state = tiny.state_dict()
    state["step"] = 3  # allowed by weights_only, but not a tensor
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="not named tensors.*step"):
        VQGAN.from_pretrained(folder)
