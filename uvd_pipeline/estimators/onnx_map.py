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

import hashlib
from typing import Any, Literal

import numpy as np
from PIL import Image as PILImage
from pydantic import Field, field_validator

from ..errors import BadInput
from ..renderers.dense import depth_to_image, edges_to_image, normals_to_image, segmentation_ids_to_image
from ..types import Item
from .base import Estimator, EstimatorParams

ONNX_MISSING = "onnx_map needs onnxruntime (extra 'onnx': pip install 'uvd-pipeline[onnx]'), which is not installed"
Output = Literal["depth", "inverse_depth", "normals", "edges", "segmentation"]


class OnnxMapParams(EstimatorParams):
    model: str = Field(description="the .onnx file (local path or fsspec URL), supplied by the user")
    output: Output = Field(description="what the model predicts, which decides how it is drawn")
    sha256: str | None = Field(default=None, description="refuse a model file whose SHA-256 differs")
    input_size: tuple[int, int] = Field(default=(384, 384), description="[height, width] the model takes")
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    input_name: str | None = Field(default=None, description="model input to feed (default: the first)")
    output_name: str | None = Field(default=None, description="model output to read (default: the first)")

    @field_validator("input_size", mode="before")
    @classmethod
    def _square(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int) else v

    @field_validator("input_size")
    @classmethod
    def _positive(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 1:
            raise ValueError(f"input_size must be positive, got {list(v)}")
        return v

    @field_validator("std")
    @classmethod
    def _nonzero(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if 0 in v:
            raise ValueError("std must not hold a zero")
        return v


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxMapEstimator(Estimator):
    Params = OnnxMapParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # class ids must not be blended when the view is brought to 256 x 256
        self.resample = "nearest" if self.params.output == "segmentation" else "default"

    def load(self, device: str) -> Any:
        from ..storage import read_bytes

        p = self.params
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError(ONNX_MISSING) from exc
        data = read_bytes(p.model)
        if p.sha256 and hashlib.sha256(data).hexdigest() != p.sha256.lower():
            raise ValueError(f"{p.model}: SHA-256 {hashlib.sha256(data).hexdigest()} is not the pinned {p.sha256}")
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            session = ort.InferenceSession(data, providers=providers)
        except Exception as exc:  # not ONNX, or an op this runtime lacks: the user's file to fix
            raise ValueError(f"{p.model}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None
        names_in = [i.name for i in session.get_inputs()]
        names_out = [o.name for o in session.get_outputs()]
        for given, names, what in ((p.input_name, names_in, "input_name"), (p.output_name, names_out, "output_name")):
            if given is not None and given not in names:
                raise ValueError(f"{p.model}: {what} {given!r} is not one of the model's {names}")
        return session, p.input_name or names_in[0], p.output_name or names_out[0]

    def predict(self, pixels: np.ndarray, item: Item) -> np.ndarray:
        """The model's map at the item's size: [H, W] (depth, edges, class ids) or [H, W, 3]."""
        session, input_name, output_name = self.model
        p = self.params
        h, w = pixels.shape[:2]
        resized = PILImage.fromarray(pixels).resize((p.input_size[1], p.input_size[0]), PILImage.Resampling.BICUBIC)
        x = (np.asarray(resized, np.float32) / 255.0 - np.float32(p.mean)) / np.float32(p.std)
        out = np.asarray(session.run([output_name], {input_name: x.transpose(2, 0, 1)[None]})[0])
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
