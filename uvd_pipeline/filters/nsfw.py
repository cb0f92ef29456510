"""`nsfw`: unsafe-content score from NudeNet's detector (the `nudenet` package, extra `safety`).

NudeNet ships its ONNX model (a YOLOv8n detector at 320 x 320, 18 body-part classes) inside its
wheel, so nothing is downloaded. The image is prepared exactly as NudeNet's `detect()` prepares an
image file: padded with black on the bottom and right to a square, resized to 320 x 320 with
OpenCV's bilinear resize, scaled to [0, 1], channels in BGR order (detect() reads the file with
OpenCV, BGR, then swaps twice: RGBA2BGR and blobFromImage's swapRB; tests/filters/test_nsfw.py
checks the score against detect()). The score is the highest probability the model gives any of
its 2100 candidate boxes for any of `classes` (by default the five "exposed" classes: exposed
breasts, genitalia, buttocks, anus). It is a probability in [0, 1] for every image, not only
those with a detection, so a threshold can move later without scoring again; detect() reports a
box only from 0.25 (its non-maximum suppression's score threshold).

`model_sha256` pins the model file: a `nudenet` release with another model fails with both hashes
named rather than silently changing the scores (set it to the new hash to accept that model; it
enters the score identity, so stored scores of the old model are not reused).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput
from ..estimators.base import resolve_device
from ..estimators.onnx_session import load_session
from ..stages import Filter, SignatureImage

NSFW_MISSING = "nsfw needs nudenet (extra 'safety': pip install 'uvd-pipeline[safety]'), which is not installed"
#: SHA-256 of nudenet 3.4.2's 320n.onnx
NUDENET_320N_SHA256 = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"
INPUT_SIZE = 320
EXPOSED = ("FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "BUTTOCKS_EXPOSED", "ANUS_EXPOSED")


class NsfwParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    classes: tuple[str, ...] = Field(default=EXPOSED, min_length=1, description="NudeNet classes whose probability is the score")
    model_sha256: str = Field(default=NUDENET_320N_SHA256, description="SHA-256 of nudenet's bundled 320n.onnx")
    device: str = Field(default="auto", pattern="^(auto|cpu|cuda)$", description="auto: cuda when available")
    max_nsfw: float | None = Field(default=0.5, ge=0, le=1, description="drop images whose score is above")


def nudenet_available() -> bool:
    try:
        importlib.import_module("nudenet")
    except ImportError:
        return False
    return True


def nudenet_model() -> tuple[Path, list[str]]:
    """The bundled model file and its class names in output order, from the installed nudenet."""
    try:
        module = importlib.import_module("nudenet.nudenet")
    except ImportError as exc:
        raise ImportError(NSFW_MISSING) from exc
    labels = list(getattr(module, "__labels"))
    return Path(module.__file__).parent / "320n.onnx", labels


def letterbox(pixels: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """NudeNet's input for RGB `pixels`: BGR, padded bottom/right with black to a square, resized
    bilinear, scaled to [0, 1]; NCHW float32."""
    import cv2

    h, w = pixels.shape[:2]
    side = max(h, w)
    bgr = np.ascontiguousarray(pixels[:, :, ::-1])
    square = cv2.copyMakeBorder(bgr, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    resized = cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR)
    return (resized.astype(np.float64) * (1.0 / 255.0)).astype(np.float32).transpose(2, 0, 1)[None]


class NsfwFilter(Filter):
    name = "nsfw"
    Params = NsfwParams
    version = "1"
    needs_gpu = True
    limits: ClassVar[dict[str, tuple[str, str]]] = {"max_nsfw": ("nsfw", "max")}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._model: Any = None

    def setup(self) -> None:
        if self._model is not None:
            return
        path, labels = nudenet_model()
        unknown = [c for c in self.params.classes if c not in labels]
        if unknown:
            raise ValueError(f"nsfw: classes {unknown} are not NudeNet classes; it has {labels}")
        session, input_name, output_name = load_session(
            str(path), self.params.model_sha256, resolve_device(self.params.device), NSFW_MISSING
        )
        rows = [4 + labels.index(c) for c in self.params.classes]  # each candidate: cx, cy, w, h, then one score per class
        self._model = (session, input_name, output_name, rows)

    def teardown(self) -> None:
        self._model = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}  # the session is not shipped; setup() loads it on the worker

    def score(self, image: SignatureImage) -> dict[str, float]:
        self.setup()
        session, input_name, output_name, rows = self._model
        out = np.asarray(session.run([output_name], {input_name: letterbox(image.pixels)})[0])  # [1, 4 + classes, boxes]
        probabilities = out[0, rows, :]
        if not np.isfinite(probabilities).all():
            raise BadInput("bad_prediction", f"{image.record}: the NudeNet model gave NaN or infinity")
        return {"nsfw": float(np.clip(probabilities.max(), 0.0, 1.0))}
