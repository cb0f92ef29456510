"""Contact sheets, the build's raw sample (engine-independent choice) and decoded previews."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.audit.worlds import build_once, small_dataset, small_world
from uvd_pipeline.manifests import Dataset
from uvd_pipeline.exports.previews import (
    contact_sheet,
    load_dataset_tokenizer,
    preview_psnr,
    preview_sequence,
    psnr,
    raw_images,
    sheet_tiles,
    write_raw_previews,
)


def test_contact_sheet_round_trip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (11, 256, 256, 3), dtype=np.uint8)
    sheet = contact_sheet(images)
    assert sheet.shape == (2 * 256 + 4, 8 * 256 + 7 * 4, 3)
    assert np.array_equal(sheet_tiles(sheet, 11), images)
    assert psnr(images, images) == float("inf")
    assert 0 < psnr(images, 255 - images) < 10


def test_raw_sample_is_chosen_by_content_not_layout(tmp_path_factory):
    """Two builds of the same inputs with different unit sizes keep the same raw sequences, byte for byte."""
    out_a = small_dataset(tmp_path_factory)
    _, data = small_world(tmp_path_factory)
    data["sources"] = [dict(data["sources"][0], params=dict(data["sources"][0]["params"], unit_size=5))]
    out_b = build_once(tmp_path_factory, "small_unit5", data)
    a = write_raw_previews(str(out_a), per_task=3)
    b = write_raw_previews(str(out_b), per_task=3)
    assert len(a) == 3 and all("file" in e for e in a)
    web_a = [e["sequence_id"] for e in a if e["source"] == "web"]
    assert web_a and web_a == [e["sequence_id"] for e in b][: len(web_a)]
    for sid in web_a:
        assert (out_a / "previews" / f"{sid}.png").read_bytes() == (out_b / "previews" / f"{sid}.png").read_bytes()
    index = json.loads((out_a / "previews" / "index.json").read_text())
    assert index["per_task"] == 3 and [e["sequence_id"] for e in index["sequences"]] == [e["sequence_id"] for e in a]


def test_preview_decodes_tokens_under_the_raw_images_with_psnr(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)
    entries = write_raw_previews(str(out), per_task=2)
    ds = Dataset(str(out))
    vq = load_dataset_tokenizer(ds)
    raw = raw_images(ds, entries[0])
    assert raw.shape == (1, 256, 256, 3)
    assert np.array_equal(vq.encode(raw)[0], ds.tokens(entries[0]["sequence_id"]))  # the raw is what was tokenized
    png = tmp_path / "p.png"
    result = preview_sequence(str(out), entries[0]["sequence_id"], str(png), tokenizer=vq)
    decoded = vq.decode(vq.encode(raw))
    assert result["with_raw"] and result["psnr"] == pytest.approx(psnr(raw, decoded))
    sheet = np.asarray(Image.open(png).convert("RGB"))
    assert sheet.shape == (256 + 16 + 256, 256, 3)
    assert np.array_equal(sheet[:256], raw[0]) and np.array_equal(sheet[-256:], decoded[0])
    per_task = preview_psnr(ds, vq)
    assert per_task["image"]["sequences"] == 2 and per_task["image"]["psnr_db"] > 0


def test_preview_without_raw_and_unknown_ids(tmp_path_factory, tmp_path):
    out = small_dataset(tmp_path_factory)
    ds = Dataset(str(out))
    kept = {e["sequence_id"] for e in write_raw_previews(str(out), per_task=1)}
    other = next(s for s in ds.manifest["sequence_id"].to_pylist() if s not in kept)
    result = preview_sequence(str(out), other, str(tmp_path / "o.png"))
    assert not result["with_raw"] and result["psnr"] is None
    assert Image.open(tmp_path / "o.png").size == (256, 256)
    with pytest.raises(KeyError, match="no sequence 'nope'"):
        preview_sequence(str(out), "nope", str(tmp_path / "n.png"))
