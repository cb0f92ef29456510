"""LVM-compatible VQGAN tokenizer (open-muse ``VQGANModel`` checkpoints, 16x16 codes).

    from uvd_pipeline.tokenizer import VQGAN, preprocess
    vq = VQGAN.from_pretrained("path/to/lvm_vqgan")       # or VQGAN.random("tiny", seed=0)
    codes = vq.encode(np.stack([preprocess(img) for img in images]))   # uint16 [N, 256]
    recon = vq.decode(codes)                                           # uint8 [N, 256, 256, 3]

Names are imported lazily: `preprocess` needs only PIL and numpy, so CPU workers that only
build sequences never import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# Eager (PIL and numpy only): importing the submodule uvd_pipeline.tokenizer.preprocess first
# (images.py does) would otherwise leave the package attribute `preprocess` naming the module.
from .preprocess import preprocess as preprocess

_EXPORTS = {
    "VQGAN": "vqgan",
    "expected_state_shapes": "vqgan",
    "VQGANConfig": "config",
    "PRESETS": "config",
    "LVM_CONFIG": "config",
    "TINY_CONFIG": "config",
    "VQGANModel": "modules",
    "CheckpointError": "checkpoint",
    "checkpoint_sha256": "checkpoint",
    "random_id_sha256": "checkpoint",
    "random_state_dict": "checkpoint",
    "state_dict_sha256": "checkpoint",
}

__all__ = sorted([*_EXPORTS, "preprocess"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
