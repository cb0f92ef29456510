"""LVM-compatible VQGAN tokenizer (open-muse ``VQGANModel`` checkpoints, 16x16 codes).

    from uvd_pipeline.tokenizer import VQGAN, preprocess
    vq = VQGAN.from_pretrained("path/to/lvm_vqgan")       # or VQGAN.random("tiny", seed=0)
    codes = vq.encode(np.stack([preprocess(img) for img in images]))   # uint16 [N, 256]
    recon = vq.decode(codes)                                           # uint8 [N, 256, 256, 3]
"""

from .checkpoint import CheckpointError, checkpoint_sha256, random_state_dict, state_dict_sha256
from .config import LVM_CONFIG, PRESETS, TINY_CONFIG, VQGANConfig
from .modules import VQGANModel
from .preprocess import preprocess
from .vqgan import VQGAN, expected_state_shapes

__all__ = [
    "VQGAN",
    "VQGANConfig",
    "VQGANModel",
    "preprocess",
    "checkpoint_sha256",
    "state_dict_sha256",
    "random_state_dict",
    "expected_state_shapes",
    "CheckpointError",
    "PRESETS",
    "LVM_CONFIG",
    "TINY_CONFIG",
]
