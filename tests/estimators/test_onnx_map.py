"""The onnx_map estimator on real ONNX files (tiny graphs written with onnx's helpers): each drawn
view equals what the dense-map renderers draw from the map the graph computes, the model file is
pinned by hash, and bad files or outputs fail with the file named."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image as PILImage

pytest.importorskip("onnxruntime", reason="extra 'onnx' not installed")
pytest.importorskip("onnx", reason="extra 'onnx' not installed")

from uvd_pipeline import registry  # noqa: E402
from uvd_pipeline.errors import BadInput  # noqa: E402
from uvd_pipeline.estimators.onnx_map import OnnxMapEstimator  # noqa: E402
from uvd_pipeline.renderers.dense import depth_to_image, edges_to_image, normals_to_image  # noqa: E402
from uvd_pipeline.renderers.palette import ids_to_colours  # noqa: E402
from uvd_pipeline.samples.onnx_models import write_depth_model, write_edges_model, write_identity_model  # noqa: E402
from uvd_pipeline.types import Image, Item  # noqa: E402


def picture(h: int = 48, w: int = 64) -> np.ndarray:
    """Smooth colour ramps (resizing them changes little) with a bright square."""
    y, x = np.mgrid[0:h, 0:w]
    px = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], axis=2).astype(np.uint8)
    px[10:20, 10:20] = 250
    return px


def normalised_at_item_size(px: np.ndarray) -> np.ndarray:
    """What the graphs see, taken at the item's own size (input_size = item size: no resize)."""
    return (px.astype(np.float32) / 255.0 - 0.5) / 0.5


def estimator(model, output: str, px: np.ndarray, **extra) -> OnnxMapEstimator:
    est = registry.create("renderer", "onnx_map", {
        "model": str(model), "output": output, "input_size": list(px.shape[:2]), "device": "cpu", **extra
    })
    est.setup()
    return est


def test_depth_is_drawn_as_normalised_inverse_depth(tmp_path):
    px = picture()
    est = estimator(write_depth_model(tmp_path / "d.onnx"), "depth", px)
    drawn = est.render(Item("a.png", Image("a", px)))
    expected = depth_to_image(1.5 + normalised_at_item_size(px).mean(axis=2), "depth")
    assert drawn.shape == px.shape and drawn.dtype == np.uint8
    assert np.abs(drawn.astype(int) - expected.astype(int)).max() <= 1  # float32 vs float64 rounding
    assert est.resample == "default" and est.needs_gpu


def test_normals_edges_and_segmentation(tmp_path):
    px = picture()
    x = normalised_at_item_size(px)
    identity = write_identity_model(tmp_path / "id.onnx")
    item = Item("a.png", Image("a", px))

    normals = estimator(identity, "normals", px).render(item)
    unit = x / np.maximum(np.linalg.norm(x, axis=2, keepdims=True), 1e-8)
    assert np.abs(normals.astype(int) - normals_to_image(unit).astype(int)).max() <= 1

    edges = estimator(write_edges_model(tmp_path / "e.onnx"), "edges", px).render(item)
    want = edges_to_image(1.0 / (1.0 + np.exp(-4.0 * x.mean(axis=2))))
    assert np.abs(edges.astype(int) - want.astype(int)).max() <= 1

    seg_est = estimator(identity, "segmentation", px)
    seg = seg_est.render(item)  # three class logits = the three channels: the brightest wins
    assert np.array_equal(seg, ids_to_colours(px.argmax(axis=2)))
    assert seg_est.resample == "nearest"  # class colours are never blended on the way to 256 x 256


def test_the_map_comes_back_at_the_item_size_whatever_the_model_size(tmp_path):
    px = picture(90, 120)
    est = registry.create("renderer", "onnx_map", {"model": str(write_depth_model(tmp_path / "d.onnx")),
                                                   "output": "depth", "input_size": 32, "device": "cpu"})
    assert est.params.input_size == (32, 32)
    drawn = est.render(Item("a.png", Image("a", px)))
    assert drawn.shape == (90, 120, 3)
    small = np.asarray(PILImage.fromarray(px).resize((32, 32), PILImage.Resampling.BICUBIC))
    depth = 1.5 + normalised_at_item_size(small).mean(axis=2)
    assert abs(float(drawn.mean()) - float(depth_to_image(depth).mean())) < 4  # same picture, upsampled


def test_the_model_file_is_pinned_by_hash_and_bad_files_name_themselves(tmp_path):
    model = write_depth_model(tmp_path / "d.onnx")
    good = hashlib.sha256(model.read_bytes()).hexdigest()
    estimator(model, "depth", picture(), sha256=good)  # loads
    with pytest.raises(ValueError, match=r"d\.onnx: SHA-256 .* is not the pinned"):
        estimator(model, "depth", picture(), sha256="0" * 64)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x80\x04 not a protobuf graph")
    with pytest.raises(ValueError, match=r"junk\.onnx: onnxruntime cannot load it"):
        estimator(junk, "depth", picture())
    with pytest.raises(ValueError, match=r"output_name 'logits' is not one of the model's \['map'\]"):
        estimator(model, "depth", picture(), output_name="logits")


def test_a_depth_model_used_for_normals_is_a_reject_not_a_crash(tmp_path):
    px = picture()
    est = estimator(write_depth_model(tmp_path / "d.onnx"), "normals", px)
    with pytest.raises(BadInput) as err:
        est.render(Item("a.png", Image("a", px)))
    assert err.value.reason == "bad_prediction" and "3 channels" in err.value.detail


def test_params_are_checked():
    for bad in ({"output": "albedo"}, {"output": "depth", "input_size": 0}, {"output": "depth", "std": [0.5, 0, 0.5]}):
        with pytest.raises(ValueError):
            OnnxMapEstimator(model="m.onnx", **bad)


def test_a_recipe_pairs_images_with_their_estimated_depth_on_every_engine_alike(tmp_path):
    """image_folder + onnx_map + pairs through the local engine and Ray: (image, depth) pairs, the
    same dataset on both (the estimator runs inside each unit's task, loaded once per worker)."""
    from uvd_pipeline.engines import run_recipe
    from uvd_pipeline.manifests import dataset_digest, open_dataset
    from uvd_pipeline.recipe import parse_recipe
    from uvd_pipeline.testing import write_sample_images

    write_sample_images(tmp_path / "imgs", n=8)
    recipe = parse_recipe({
        "name": "onnx_depth", "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [{
            "name": "web", "plugin": "image_folder", "params": {"path": str(tmp_path / "imgs"), "unit_size": 4},
            "category": "annotated_images", "task": "depth",
            "renderers": [{"plugin": "onnx_map", "params": {
                "model": str(write_depth_model(tmp_path / "d.onnx")), "output": "depth", "input_size": 64}}],
            "sequencer": {"plugin": "pairs", "params": {"pairs": 2}},
        }],
    })
    local = run_recipe(recipe, str(tmp_path / "local"), engine="local", quiet=True)
    assert local.failures == [] and local.dataset["totals"]["images"] == 16  # 8 images + 8 depth views
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        assert run_recipe(recipe, str(tmp_path / "ray"), engine="ray", workers=2, quiet=True).failures == []
    finally:
        ray.shutdown()
    digests = {dataset_digest(open_dataset(str(tmp_path / name))) for name in ("local", "ray")}
    assert len(digests) == 1
