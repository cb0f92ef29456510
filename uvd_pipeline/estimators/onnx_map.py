"""`onnx_map`: a dense map (depth, normals, edges or segmentation) predicted by a model the user
exports to ONNX, drawn the way the dense-map renderers draw annotated maps.

LVM's depth, surface-normal and edge sequences came from models run over unlabelled images; this
estimator runs any such model (a MiDaS/DPT depth net, an Omnidata normal net, an HED edge net, a
segmentation net) without code of its own: the user exports the network to ONNX and names the
file; nothing is downloaded. ONNX files are protobuf graphs, so loading one runs no Python code (a
pickled checkpoint could). Optional `sha256` pins the file.

The image is resized to `input_size` (bicubic), scaled to [0, 1], normalised by `mean`/`std` and
fed as a float32 NCHW batch of one to the model's first input (or `input_name`). The first output
(or `output_name`) is read as [1, C, h, w] (or [1, h, w]), resized back to the item's size and drawn:

- `depth` / `inverse_depth` (C = 1): normalised inverse depth as grey, as `depth_map` draws it;
- `normals` (C = 3, values in [-1, 1]): RGB = (n + 1) / 2 after renormalising, as `normal_map`;
- `edges` (C = 1, values in [0, 1]): grey, as `edge_map`;
- `segmentation` (C = classes: argmax; or C = 1: class ids): the fixed palette, resized nearest.

Runs on CUDA (onnxruntime-gpu's CUDAExecutionProvider) when the device resolves to cuda and the
provider is installed, else on CPU. Extra `onnx` (onnxruntime; onnx to write test models).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from PIL import Image as PILImage
from pydantic import Field

from ..errors import BadInput
from ..renderers.dense import depth_to_image, edges_to_image, normals_to_image, segmentation_ids_to_image
from ..types import Item
from .base import Estimator, EstimatorParams
from .onnx_session import OnnxModelParams, load_session, normalized_batch, onnx_missing, onnxruntime_available

ONNX_MISSING = onnx_missing("onnx_map")
Output = Literal["depth", "inverse_depth", "normals", "edges", "segmentation"]
__all__ = ["ONNX_MISSING", "OnnxMapEstimator", "OnnxMapParams", "onnxruntime_available"]


class OnnxMapParams(EstimatorParams, OnnxModelParams):
    """The model (file, sha256, input size, mean/std, input/output names; see onnx_session) and
    what it predicts."""

    output: Output = Field(description="what the model predicts, which decides how it is drawn")


class OnnxMapEstimator(Estimator):
    Params = OnnxMapParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # class ids must not be blended when the view is brought to 256 x 256
        self.resample = "nearest" if self.params.output == "segmentation" else "default"

    def load(self, device: str) -> Any:
        p = self.params
        return load_session(p.model, p.sha256, device, ONNX_MISSING, p.input_name, p.output_name)

    def predict(self, pixels: np.ndarray, item: Item) -> np.ndarray:
        """The model's map at the item's size: [H, W] (depth, edges, class ids) or [H, W, 3]."""
        session, input_name, output_name = self.model
        p = self.params
        h, w = pixels.shape[:2]
        out = np.asarray(session.run([output_name], {input_name: normalized_batch(pixels, p)})[0])
        maps = out[0] if out.ndim == 4 else out  # [C, h, w]; [1, h, w] for single-channel outputs
        if maps.ndim != 3 or maps.shape[0] < 1:
            raise BadInput("bad_prediction", f"{item.record}: model output has shape {list(out.shape)}, expected [1, C, h, w]")
        if not np.isfinite(maps).all():
            raise BadInput("bad_prediction", f"{item.record}: model output holds NaN or infinity")
        if p.output == "segmentation":
            ids = maps.argmax(axis=0) if maps.shape[0] > 1 else np.rint(maps[0])
            return np.asarray(PILImage.fromarray(ids.astype(np.int32)).resize((w, h), PILImage.Resampling.NEAREST))
        channels = [_resize_float(m, w, h) for m in maps[: 3 if p.output == "normals" else 1]]
        if p.output == "normals":
            if len(channels) != 3:
                raise BadInput("bad_prediction", f"{item.record}: a normals model must output 3 channels, got {maps.shape[0]}")
            n = np.stack(channels, axis=2)
            return n / np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-8)
        return channels[0]

    def draw(self, prediction: np.ndarray, item: Item) -> np.ndarray:
        kind = self.params.output
        if kind in ("depth", "inverse_depth"):
            return depth_to_image(prediction, stores=kind)
        if kind == "normals":
            return normals_to_image(prediction)
        if kind == "edges":
            return edges_to_image(np.clip(prediction, 0.0, 1.0))
        return segmentation_ids_to_image(prediction)


def _resize_float(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """One float map resized with bilinear interpolation (PIL's 32-bit float mode)."""
    img = PILImage.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), PILImage.Resampling.BILINEAR), dtype=np.float64)
