"""A checkpoint that would not load is refused before any output exists: a config.json asking for
an absurd model (bounds per field, then the parameter count), weights a weights_only load refuses,
weights that do not match the config. `uvd run` exits 2 with one line naming the file (and the
field), and the output folder is never created."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml
from PIL import Image as PILImage

from uvd_pipeline.tokenizer import VQGAN, CheckpointError
from uvd_pipeline.tokenizer.config import VQGANConfig
from uvd_pipeline.tokenizer.preflight import MAX_PARAMETERS, check_checkpoint


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    VQGAN.random("tiny").save_pretrained(folder, safe_serialization=True)
    return folder


def _clone(src, dst, weights="pytorch_model.bin", **config_changes):
    dst.mkdir()
    config = json.loads((src / "config.json").read_text())
    config.update(config_changes)
    (dst / "config.json").write_text(json.dumps(config))
    (dst / weights).write_bytes((src / weights).read_bytes())
    return dst


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.safetensors"])
def test_a_good_checkpoint_passes_without_loading_its_weights(tiny_folder, tmp_path, weights):
    folder = _clone(tiny_folder, tmp_path / "ok", weights)
    assert check_checkpoint(folder) == VQGAN.random("tiny").config


@pytest.mark.parametrize("field, value, words", [
    ("hidden_channels", 1 << 20, "at most 4096"),
    ("resolution", 1 << 16, "at most 1024"),
    ("num_res_blocks", 100000, "at most 8"),
    ("z_channels", 10**9, "at most 2048"),
    ("channel_mult", [1] * 40, "at most 8 levels"),
    ("channel_mult", [1, 1, 1, 1, 1e999], "list of integers"),  # written as Infinity, which json reads back
    ("channel_mult", [1, 2, 4, 256, 256], "at most 4096"),
    ("attn_resolutions", list(range(50)), "at most 8 entries"),
])
def test_config_fields_out_of_bounds_are_named(tiny_folder, tmp_path, field, value, words):
    folder = _clone(tiny_folder, tmp_path / "bad", **{"num_res_blocks": 2, field: value})
    with pytest.raises(ValueError) as err:
        check_checkpoint(folder)
    message = str(err.value)
    assert str(folder / "config.json") in message and field in message and words in message


def test_a_feature_map_too_big_for_memory_is_refused():
    # every field within its own bound, but one image's first feature map would be 4 GiB
    with pytest.raises(ValueError, match=r"VQGANConfig.resolution: .*4.0 GiB"):
        VQGANConfig(resolution=1024, hidden_channels=1024, channel_mult=(1, 1, 1, 1, 1), num_res_blocks=0)


def test_a_model_over_the_parameter_bound_is_refused_by_its_size(tiny_folder, tmp_path):
    folder = _clone(tiny_folder, tmp_path / "big", hidden_channels=512, channel_mult=[1, 8, 8, 8, 8],
                    num_res_blocks=8, resolution=256)
    with pytest.raises(CheckpointError) as err:
        check_checkpoint(folder)
    assert str(folder / "config.json") in str(err.value) and f"{MAX_PARAMETERS:,}" in str(err.value)


def test_weights_that_do_not_match_the_config_are_refused(tiny_folder, tmp_path):
    folder = _clone(tiny_folder, tmp_path / "mismatch", z_channels=64)
    with pytest.raises(CheckpointError, match="pytorch_model.bin: weights do not match"):
        check_checkpoint(folder)


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _uvd(*args):
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True)


def _recipe_file(tmp_path, checkpoint):
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    PILImage.new("RGB", (32, 32), (200, 10, 10)).save(images / "a.png")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"tokenizer": {"checkpoint": str(checkpoint)}, "sources": [
        {"name": "img", "plugin": "image_folder", "params": {"path": str(images)}, "category": "unlabelled_images"}]}))
    return path


def test_uvd_run_exits_2_before_the_output_exists_on_a_poisoned_or_oversized_checkpoint(tiny_folder, tmp_path):
    poisoned = _clone(tiny_folder, tmp_path / "poisoned")
    state = torch.load(poisoned / "pytorch_model.bin", weights_only=True)
    marker = tmp_path / "pwned"
    state["evil"] = _Payload(str(marker))
    torch.save(state, poisoned / "pytorch_model.bin")
    huge = _clone(tiny_folder, tmp_path / "huge", hidden_channels=1 << 20)
    for folder, why in ((poisoned, "refused to load: it is not a plain tensor state dict (torch.load(weights_only=True) failed: "
                                       "Unsupported global: GLOBAL io.open was not an allowed global by default)"), (huge, "VQGANConfig.hidden_channels: at most 4096")):
        out = tmp_path / f"out-{folder.name}"
        res = _uvd("run", str(_recipe_file(tmp_path, folder)), "--out", str(out), "--engine", "local", "-q")
        assert res.returncode == 2, res.stderr
        message = " ".join(res.stderr.split())  # one message; rich wraps it at the terminal's width
        assert message.startswith("error: tokenizer.checkpoint: ") and message.count("error:") == 1, res.stderr
        assert str(folder) in message.replace(" ", "") and why in message
        assert not out.exists()
    assert not marker.exists()
