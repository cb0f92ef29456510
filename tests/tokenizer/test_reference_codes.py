"""Our VQGAN gives exactly open-muse's codes (fixture made by tools/make_reference_codes.py).

The fixture holds, for the LVM config and for our tiny preset, the codes that open-muse's
own ``VQGANModel.get_code`` produced on real photographs, with weights from a recipe that
only uses the reference's key names and shapes.  Here the same weights are regenerated from
*our* model's keys, saved as an open-muse folder (config.json + pytorch_model.bin), loaded
with ``VQGAN.from_pretrained`` and used to encode the same photographs.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from uvd_pipeline.tokenizer import PRESETS, VQGAN, VQGANConfig, expected_state_shapes, preprocess

PRESET_NAMES = ["tiny", "lvm"]
# "attn" is a small config with attention blocks (not a preset) so AttnBlock is covered too
MODEL_NAMES = ["tiny", "attn", "lvm"]


def _config(reference_fixture, name: str) -> VQGANConfig:
    return VQGANConfig.from_dict(reference_fixture["models"][name]["config"])


def test_fixture_is_discriminating(reference_fixture):
    """A fixture of one repeated code would prove nothing: require many distinct codes."""
    names = [img["name"] for img in reference_fixture["images"]]
    assert len(names) >= 3
    for preset in MODEL_NAMES:
        model = reference_fixture["models"][preset]
        codes = np.array([model["codes"][n] for n in names])
        assert codes.shape == (len(names), 256)
        assert len(np.unique(codes)) >= 150, preset
        for row in codes:
            assert len(np.unique(row)) >= 40, preset
        assert not np.array_equal(codes[0], codes[1])


@pytest.mark.parametrize("preset", MODEL_NAMES)
def test_state_dict_keys_equal_open_muse(reference_fixture, preset):
    reference = {k: tuple(shape) for k, shape in reference_fixture["models"][preset]["reference_keys"]}
    ours = expected_state_shapes(_config(reference_fixture, preset))
    assert sorted(ours) == sorted(reference)
    assert ours == reference


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_presets_equal_reference_configs(reference_fixture, reference_tool, preset):
    assert reference_tool.CONFIGS[preset] == reference_fixture["models"][preset]["config"]
    assert VQGANConfig.from_dict(reference_fixture["models"][preset]["config"]) == PRESETS[preset]


def test_photos_preprocess_like_fixture(reference_fixture, reference_tool):
    pytest.importorskip("skimage")
    names, images = reference_tool.load_photos()
    assert names == [img["name"] for img in reference_fixture["images"]]
    for img, arr in zip(reference_fixture["images"], images, strict=True):
        assert hashlib.sha256(arr.tobytes()).hexdigest() == img["preprocessed_sha256"], img["name"]


def _write_open_muse_folder(folder, config: dict, weights: dict) -> None:
    folder.mkdir()
    data = {"_class_name": "VQGANModel", "_version": "0.0.1", **config}
    (folder / "config.json").write_text(json.dumps(data, indent=2))
    torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, folder / "pytorch_model.bin")


def _mismatch_report(got: np.ndarray, want: np.ndarray, names, gaps) -> str:
    rows, cols = np.nonzero(got != want)
    lines = [f"{len(rows)} of {want.size} codes differ from open-muse's"]
    for r, c in list(zip(rows, cols, strict=True))[:10]:
        lines.append(f"  {names[r]} token {c}: ours {got[r, c]} vs reference {want[r, c]} "
                     f"(image's smallest best/second-best distance gap {gaps[r]:.3g})")
    return "\n".join(lines)


@pytest.mark.parametrize("preset", ["tiny", "attn", pytest.param("lvm", marks=pytest.mark.slow)])
def test_codes_equal_open_muse(reference_fixture, reference_tool, tmp_path, preset):
    pytest.importorskip("skimage")
    model_fx = reference_fixture["models"][preset]
    # the same recipe, keyed on OUR model's sorted state-dict keys
    shapes = expected_state_shapes(_config(reference_fixture, preset))
    weights = reference_tool.reference_weights(shapes, reference_fixture["seed"])
    assert reference_tool.weights_sha256(weights) == model_fx["weights_sha256"], \
        "weight recipe no longer reproduces the fixture's weights (numpy RNG stream changed?)"
    folder = tmp_path / f"open_muse_{preset}"
    _write_open_muse_folder(folder, model_fx["config"], weights)

    names, images = reference_tool.load_photos()
    want = np.array([model_fx["codes"][n] for n in names])
    vq = VQGAN.from_pretrained(folder, device="cpu", dtype="float32", batch_size=model_fx["batch_size"])
    got = vq.encode(images)
    assert got.dtype == np.uint16 and got.shape == want.shape
    assert np.array_equal(got, want), _mismatch_report(got, want, names, model_fx["min_distance_gap"])

    if preset == "tiny":  # cheap here: other micro-batch sizes give the same codes too
        for batch_size in (1, 16):
            vq.batch_size = batch_size
            assert np.array_equal(vq.encode(images), want), f"batch_size={batch_size}"


def test_preprocess_matches_lvm_protocol_on_bundled_photo(reference_tool):
    pytest.importorskip("skimage")
    from PIL import Image

    with Image.open(reference_tool.photo_path("coffee.png")) as img:
        expected = np.asarray(img.convert("RGB").resize((256, 256)))
        assert np.array_equal(preprocess(img), expected)
