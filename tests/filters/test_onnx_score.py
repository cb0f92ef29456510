"""`onnx_score` on a real ONNX file (a tiny scoring head written with onnx's helpers): the score
is the element the params name, after the activation, exactly; thresholds drop with a detail;
the file is pinned by hash and bad files or outputs fail with the file named."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="extra 'onnx' not installed")
pytest.importorskip("onnx", reason="extra 'onnx' not installed")

from uvd_pipeline import registry  # noqa: E402
from uvd_pipeline.errors import BadInput  # noqa: E402
from uvd_pipeline.filters.onnx_score import OnnxScoreFilter  # noqa: E402
from uvd_pipeline.samples.onnx_models import write_brightness_model  # noqa: E402
from uvd_pipeline.stages import SignatureImage  # noqa: E402


def flat(level: int, h: int = 30, w: int = 40) -> SignatureImage:
    return SignatureImage(np.full((h, w, 3), level, np.uint8), width=4 * w, height=4 * h, record=f"flat_{level}.jpg")


def scorer(model, **params) -> OnnxScoreFilter:
    return registry.create("filter", "onnx_score", {"model": str(model), "input_size": 16, "device": "cpu", **params})


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    return write_brightness_model(tmp_path_factory.mktemp("onnx") / "brightness.onnx")


def test_the_score_is_the_named_output_element_after_the_activation(head):
    m = (200 / 255 - 0.5) / 0.5  # the head's logits for a flat image of level 200: [m, -m]
    cases = {
        ("none", 0): m,
        ("none", 1): -m,
        ("sigmoid", 0): 1 / (1 + math.exp(-m)),
        ("softmax", 0): math.exp(m) / (math.exp(m) + math.exp(-m)),
        ("softmax", 1): math.exp(-m) / (math.exp(m) + math.exp(-m)),
    }
    for (activation, index), want in cases.items():
        got = scorer(head, activation=activation, output_index=index, score_name="brightness").score(flat(200))
        assert list(got) == ["brightness"] and isinstance(got["brightness"], float)
        assert got["brightness"] == pytest.approx(want, abs=1e-6), (activation, index)


def test_thresholds_drop_with_a_detail_and_stay_out_of_the_identity(head):
    lax = scorer(head, activation="softmax", score_name="brightness")
    strict = scorer(head, activation="softmax", score_name="brightness", min_score=0.3, max_score=0.8)
    assert lax.score_identity() == strict.score_identity()
    assert lax.score_identity()[2]["score_name"] == "brightness" and "min_score" not in lax.score_identity()[2]
    dark, mid, bright = (strict.score(flat(level)) for level in (5, 128, 255))
    assert strict.check(mid) is None and lax.check(dark) is None
    assert strict.check(dark) == f"onnx_score: brightness {round(dark['brightness'], 4)} < min_score 0.3"
    assert strict.check(bright) == f"onnx_score: brightness {round(bright['brightness'], 4)} > max_score 0.8"


def test_the_model_file_is_pinned_by_hash_and_bad_files_name_themselves(head, tmp_path):
    good = hashlib.sha256(head.read_bytes()).hexdigest()
    scorer(head, sha256=good).setup()
    with pytest.raises(ValueError, match=r"brightness\.onnx: SHA-256 .* is not the pinned"):
        scorer(head, sha256="0" * 64).setup()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf graph")
    with pytest.raises(ValueError, match=r"junk\.onnx: onnxruntime cannot load it"):
        scorer(junk).setup()
    with pytest.raises(ValueError, match=r"output_index 2 is past its end"):
        scorer(head, output_index=2).score(flat(9))


def write_sqrt_model(path):
    """sqrt(mean of x): NaN for a dark image (its normalised mean is negative)."""
    from onnx import TensorProto, helper, save_model

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("root", TensorProto.FLOAT, [1])
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Sqrt", ["mean"], ["root"])]
    model = helper.make_model(helper.make_graph(nodes, "sqrt", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save_model(model, str(path))
    return path


def test_a_non_finite_output_is_a_reject(tmp_path):
    f = scorer(write_sqrt_model(tmp_path / "sqrt.onnx"))
    assert f.score(flat(255)) == {"score": 1.0}
    with pytest.raises(BadInput) as bad:
        f.score(flat(10))
    assert bad.value.reason == "bad_prediction" and "flat_10.jpg" in bad.value.detail


def test_params_are_checked():
    for bad in ({"score_name": "Bad Name"}, {"output_index": -1}, {"activation": "relu"}, {"input_size": 0}):
        with pytest.raises(ValueError):
            OnnxScoreFilter(model="m.onnx", **bad)


def test_a_scorer_ships_without_its_session(head):
    import pickle

    f = scorer(head)
    before = f.score(flat(90))
    again = pickle.loads(pickle.dumps(f))  # after setup: the session stays behind, the copy loads its own
    assert again.score(flat(90)) == before
