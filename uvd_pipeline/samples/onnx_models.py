"""Tiny ONNX models for the `onnx_map` estimator's conformance example and tests, written with
onnx's graph helpers (no weights, no download): each maps the normalised image x, [1, 3, h, w] in
[-1, 1] with the default mean/std, to a map whose pixels a test can predict exactly.

- depth: 1.5 + mean over channels            [1, 1, h, w], always > 0
- identity: x itself                         [1, 3, h, w]: normals = x / |x|, or 3 class logits
- edges: sigmoid(4 * mean over channels)     [1, 1, h, w] in (0, 1)

and for the `onnx_score` filter, a scoring head:

- brightness: [mean of x, -mean of x]          [1, 2]: the image's mean brightness, as two logits
"""

from __future__ import annotations

from pathlib import Path

OPSET = 17  # ReduceMean takes `axes` as an attribute up to opset 17
IR_VERSION = 8  # readable by every onnxruntime release this project supports


def _write(path: Path, nodes: list, out_channels: int, initializers: list | None = None) -> Path:
    from onnx import TensorProto, helper, save_model

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("map", TensorProto.FLOAT, [1, out_channels, "h", "w"])
    graph = helper.make_graph(nodes, path.stem, [x], [y], initializer=initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(path))
    return path


def _scalar(name: str, value: float):
    from onnx import TensorProto, helper

    return helper.make_tensor(name, TensorProto.FLOAT, [], [value])


def write_depth_model(path: Path) -> Path:
    from onnx import helper

    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Add", ["mean", "offset"], ["map"]),
    ]
    return _write(path, nodes, 1, [_scalar("offset", 1.5)])


def write_identity_model(path: Path) -> Path:
    from onnx import helper

    return _write(path, [helper.make_node("Identity", ["image"], ["map"])], 3)


def write_edges_model(path: Path) -> Path:
    from onnx import helper

    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["mean", "gain"], ["scaled"]),
        helper.make_node("Sigmoid", ["scaled"], ["map"]),
    ]
    return _write(path, nodes, 1, [_scalar("gain", 4.0)])


def write_brightness_model(path: Path) -> Path:
    """[1, 2] = [m, -m], m the mean of the normalised image over channels and pixels."""
    from onnx import TensorProto, helper, save_model

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0),  # [1]
        helper.make_node("Neg", ["mean"], ["neg"]),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["m1"]),
        helper.make_node("Unsqueeze", ["neg", "axis1"], ["n1"]),
        helper.make_node("Concat", ["m1", "n1"], ["logits"], axis=1),
    ]
    axis1 = helper.make_tensor("axis1", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, path.stem, [x], [y], initializer=[axis1])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(path))
    return path
