"""Transform plugins used only by tests/engines/test_ray_placement.py, registered through a real
entry point. Each records, in a file under `log_dir`, which GPUs Ray gave the process that ran it,
and returns the image unchanged but for one inverted pixel (a real, deterministic transform)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from uvd_pipeline.stages import Transform


class MarkerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    log_dir: str


class _Marker(Transform):
    Params = MarkerParams

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        try:
            import ray

            gpus = [str(g) for g in ray.get_gpu_ids()] if ray.is_initialized() else []
        except ImportError:
            gpus = []
        seen = {"pid": os.getpid(), "gpus": gpus, "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES")}
        (Path(self.params.log_dir) / f"{self.name}-{os.getpid()}.json").write_text(json.dumps(seen))
        out = pixels.copy()
        out[0, 0] = 255 - out[0, 0]
        return out


class GpuMarker(_Marker):
    needs_gpu: ClassVar[bool] = True


class CpuMarker(_Marker):
    needs_gpu: ClassVar[bool] = False
