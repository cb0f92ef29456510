"""`onnx_score`: a score from a model the user exports to ONNX (an aesthetic head, a watermark or
text detector, any image -> number network), with thresholds on it. Nothing is downloaded; the
file is the user's, optionally pinned by `sha256` (estimators/onnx_session.py, shared with
`onnx_map`).

The image (the curation pass's reduced decode) is resized to `input_size` (bicubic), scaled to
[0, 1], normalised by `mean` / `std` and fed as a float32 NCHW batch of one to the model's first
input (or `input_name`). The first output (or `output_name`) is flattened; `activation` (none,
sigmoid, or softmax over the flattened output) is applied and element `output_index` is the score,
stored under `score_name`. `min_score` / `max_score` are its thresholds (None: not applied).
Extra `onnx` (onnxruntime).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from ..errors import BadInput
from ..estimators.base import EstimatorParams, resolve_device
from ..estimators.onnx_session import OnnxModelParams, load_session, normalized_batch, onnx_missing
from ..stages import Filter, SignatureImage

ONNX_SCORE_MISSING = onnx_missing("onnx_score")


class OnnxScoreParams(EstimatorParams, OnnxModelParams):
    output_index: int = Field(default=0, ge=0, description="which element of the flattened output is the score")
    activation: Literal["none", "sigmoid", "softmax"] = Field(default="none", description="applied to the output first")
    score_name: str = Field(default="score", pattern=r"^[a-z][a-z0-9_]*$", description="the stored score's name")
    min_score: float | None = Field(default=None, description="drop images scoring below")
    max_score: float | None = Field(default=None, description="drop images scoring above")


class OnnxScoreFilter(Filter):
    name = "onnx_score"
    Params = OnnxScoreParams
    version = "1"
    needs_gpu = True
    limits: ClassVar[dict[str, tuple[str, str]]] = {"min_score": ("score", "min"), "max_score": ("score", "max")}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        name = self.params.score_name
        self.limits = {field: (name, bound) for field, (_, bound) in type(self).limits.items()}
        self._model: Any = None

    def setup(self) -> None:
        if self._model is None:
            p = self.params
            self._model = load_session(p.model, p.sha256, resolve_device(p.device), ONNX_SCORE_MISSING, p.input_name, p.output_name)

    def teardown(self) -> None:
        self._model = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}  # a session is not shipped; setup() loads it on the worker

    def score(self, image: SignatureImage) -> dict[str, float]:
        self.setup()
        session, input_name, output_name = self._model
        p = self.params
        out = np.asarray(session.run([output_name], {input_name: normalized_batch(image.pixels, p)})[0], np.float64).reshape(-1)
        if p.output_index >= out.size:
            raise ValueError(f"{p.model}: output {output_name!r} has {out.size} values; output_index {p.output_index} is past its end")
        if not np.isfinite(out).all():
            raise BadInput("bad_prediction", f"{image.record}: {p.model} output holds NaN or infinity")
        if p.activation == "sigmoid":
            out = 1.0 / (1.0 + np.exp(-out))
        elif p.activation == "softmax":
            e = np.exp(out - out.max())
            out = e / e.sum()
        return {p.score_name: float(out[p.output_index])}
