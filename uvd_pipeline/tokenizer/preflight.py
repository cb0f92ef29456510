"""Check that a checkpoint folder will load, without loading it: the config within sane bounds,
the model it describes of a sane size, and the weights file readable as plain tensors whose names
and shapes match that model. Runs in the driver before any output exists, so a bad checkpoint is
a usage error naming the file, not a failure in every worker.

The weights are not read into memory: a ``.bin`` is opened with ``torch.load(weights_only=True,
mmap=True)`` (tensors stay on disk until touched; a legacy non-zip file is read whole), a
safetensors file only by its header.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from . import checkpoint as ckpt
from .config import CONFIG_NAME, VQGANConfig

# 8 GB of float32 weights per tokenizer replica; LVM's VQGAN has 146M parameters.
MAX_PARAMETERS = 2_000_000_000


def _weight_shapes(weights_file: str) -> dict[str, Any]:
    """Name -> tensor-like with a .shape, without reading the tensors' data."""
    if weights_file.endswith(".safetensors"):
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(weights_file, framework="pt") as f:
                return {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as exc:
            raise ckpt.CheckpointError(f"{weights_file}: not a valid safetensors file: {exc}") from exc
    try:
        return ckpt.load_state_dict(weights_file, mmap=True)
    except ckpt.CheckpointError as exc:
        if "mmap" not in str(exc):
            raise
    return ckpt.load_state_dict(weights_file)  # an old (non-zip) torch.save file: mmap cannot open it


def check_checkpoint(path: str | os.PathLike) -> VQGANConfig:
    """Raise CheckpointError / ValueError / FileNotFoundError (each naming the file, and the field
    for config problems) if the checkpoint at `path` would not load; return its config."""
    folder = ckpt.local_checkpoint(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"VQGAN checkpoint folder not found: {folder}")
    config_file = os.path.join(folder, CONFIG_NAME)
    config = VQGANConfig.from_json_file(config_file)  # field types and sane bounds
    from .vqgan import expected_state_shapes

    expected = expected_state_shapes(config)  # on the meta device: no memory
    n = sum(math.prod(s) for s in expected.values())
    if n > MAX_PARAMETERS:
        raise ckpt.CheckpointError(
            f"{config_file}: fields hidden_channels, channel_mult, num_res_blocks, z_channels and num_embeddings "
            f"describe a model of {n:,} parameters ({n * 4 / 1e9:.1f} GB as float32), over the sane bound of "
            f"{MAX_PARAMETERS:,}"
        )
    weights_file = ckpt.find_weights_file(folder)
    found = _weight_shapes(weights_file)
    ckpt.check_keys({k: torch.empty(s, device="meta") for k, s in expected.items()}, found, weights_file)
    return config
