"""The estimator plugin interface (see the package docstring)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..stages import Renderer
from ..types import Item


class EstimatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: cuda when available")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


class Estimator(Renderer):
    """A renderer whose annotation comes from a model. Implement load, predict and draw."""

    Params = EstimatorParams
    needs_gpu: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.model: Any = None
        self.device = "cpu"

    def setup(self) -> None:
        if self.model is None:
            self.device = resolve_device(getattr(self.params, "device", "cpu"))
            self.model = self.load(self.device)

    def teardown(self) -> None:
        self.model = None

    def load(self, device: str) -> Any:
        """Build the model from the weights the user gave (never downloaded). Return any handle."""
        raise NotImplementedError

    def predict(self, pixels: np.ndarray, item: Item) -> Any:
        """Predict from H x W x 3 uint8 RGB pixels; `item` gives context (e.g. person boxes)."""
        raise NotImplementedError

    def predict_batch(self, batch: list[tuple[np.ndarray, Item]]) -> list[Any]:
        """Predictions for several images; override to batch on a GPU."""
        return [self.predict(pixels, item) for pixels, item in batch]

    def draw(self, prediction: Any, item: Item) -> np.ndarray | None:
        """The prediction as an RGB image of the item's size, or None for "nothing found"."""
        raise NotImplementedError

    def render(self, item: Item) -> np.ndarray | None:
        self.setup()
        return self.draw(self.predict(item.image.pixels, item), item)
