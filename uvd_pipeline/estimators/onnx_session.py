"""A user's ONNX model, shared by the plugins that run one (`onnx_map`, the `onnx_score` and
`nsfw` filters): the params that describe it, loading it pinned by SHA-256, and the input batch.

ONNX files are protobuf graphs, so loading one runs no Python code (a pickled checkpoint could).
Nothing is downloaded: the file is the user's (or, for `nsfw`, ships inside a wheel).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from PIL import Image as PILImage
from pydantic import BaseModel, ConfigDict, Field, field_validator


def onnx_missing(plugin: str, extra: str = "onnx") -> str:
    return f"{plugin} needs onnxruntime (extra '{extra}': pip install 'uvd-pipeline[{extra}]'), which is not installed"


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxModelParams(BaseModel):
    """Which model file, how to feed it, which input and output to use."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="the .onnx file (local path or fsspec URL), supplied by the user")
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


def load_session(
    model: str,
    sha256: str | None,
    device: str,
    missing: str,
    input_name: str | None = None,
    output_name: str | None = None,
) -> tuple[Any, str, str]:
    """(onnxruntime session, input name, output name) for the model file, its hash checked first.

    CUDA (onnxruntime-gpu's CUDAExecutionProvider) when `device` is cuda and the provider is
    installed, else CPU. Errors name the file: a wrong hash, a file onnxruntime cannot load, an
    input or output name the model does not have. `missing` is the message when onnxruntime is absent.
    """
    from ..storage import read_bytes

    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(missing) from exc
    data = read_bytes(model)
    digest = hashlib.sha256(data).hexdigest()
    if sha256 and digest != sha256.lower():
        raise ValueError(f"{model}: SHA-256 {digest} is not the pinned {sha256}")
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(data, providers=providers)
    except Exception as exc:  # not ONNX, or an op this runtime lacks: the user's file to fix
        raise ValueError(f"{model}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    for given, names, what in ((input_name, names_in, "input_name"), (output_name, names_out, "output_name")):
        if given is not None and given not in names:
            raise ValueError(f"{model}: {what} {given!r} is not one of the model's {names}")
    return session, input_name or names_in[0], output_name or names_out[0]


def normalized_batch(pixels: np.ndarray, params: OnnxModelParams) -> np.ndarray:
    """H x W x 3 uint8 RGB resized to `input_size` (bicubic), scaled to [0, 1], normalised by
    mean/std: a float32 NCHW batch of one."""
    height, width = params.input_size
    resized = PILImage.fromarray(pixels).resize((width, height), PILImage.Resampling.BICUBIC)
    x = (np.asarray(resized, np.float32) / 255.0 - np.float32(params.mean)) / np.float32(params.std)
    return x.transpose(2, 0, 1)[None]
