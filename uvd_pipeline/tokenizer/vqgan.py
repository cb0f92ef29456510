"""``VQGAN``: the tokenizer API (images <-> 16x16 codes) around :class:`VQGANModel`.

Determinism: the network always runs on micro-batches of exactly ``batch_size`` images
(the last one padded with black images whose outputs are dropped), so an image's codes
do not depend on what else is in the call.  ``dtype`` 'auto' means float32 on CPU and bf16
autocast on CUDA (fp16 where bf16 is unsupported); bfloat16/float16 are autocast on any device
(the weights stay float32). On CUDA activations are channels_last, and float32 runs in IEEE
float32 unless ``tf32=True`` lets cuDNN convolutions and matmuls use TF32 (PyTorch's own default
lets convolutions use it; we do not). The codebook distances are always computed in float32.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Mapping

import numpy as np
import torch

from . import checkpoint as ckpt
from .config import CONFIG_NAME, PRESETS, VQGANConfig
from .modules import VQGANModel

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}
# x/255 exactly as LVM computes it (float64 division, then float32), for every uint8 value.
_PIXEL_LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None or dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str) and dtype in _DTYPES:
        resolved = _DTYPES[dtype]
    else:
        raise ValueError(f"unsupported dtype {dtype!r}: use 'auto', 'float32', 'bfloat16' or 'float16'")
    if resolved not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"unsupported dtype {dtype!r}")
    return resolved


@contextlib.contextmanager
def cuda_tf32(enabled: bool | None):
    """Within the block, CUDA float32 convolutions and matmuls use TF32 (True) or IEEE float32
    (False); None leaves PyTorch's settings alone. Process-wide flags, restored on exit (the
    tokenizer holds its lock meanwhile). Uses the fp32_precision API where torch has it."""
    if enabled is None:
        yield
        return
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    if hasattr(conv, "fp32_precision") and hasattr(matmul, "fp32_precision"):
        saved = (conv.fp32_precision, matmul.fp32_precision)
        conv.fp32_precision = matmul.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            conv.fp32_precision, matmul.fp32_precision = saved
    else:  # older torch: the allow_tf32 flags
        saved = (torch.backends.cudnn.allow_tf32, matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = enabled
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, matmul.allow_tf32 = saved


def _empty_model(config: VQGANConfig) -> VQGANModel:
    """The module with uninitialised CPU storage (skips torch's default init; weights come next)."""
    with torch.device("meta"):
        model = VQGANModel(config)
    return model.to_empty(device="cpu")


def expected_state_shapes(config: VQGANConfig) -> dict[str, tuple[int, ...]]:
    """State-dict key -> shape for ``config`` (built on the meta device: no memory, no init)."""
    with torch.device("meta"):
        model = VQGANModel(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


class VQGAN:
    """LVM-compatible VQGAN tokenizer.

    Build it with :meth:`from_pretrained` (an open-muse/LVM checkpoint folder) or
    :meth:`random` (a preset with deterministic random weights).
    """

    def __init__(self, config: VQGANConfig, state_dict: Mapping[str, torch.Tensor], *,
                 device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "auto",
                 batch_size: int = 16, sha256: str | None = None, source: str = "<in memory>",
                 tf32: bool = False):
        if not isinstance(config, VQGANConfig):
            raise TypeError(f"config must be a VQGANConfig, got {type(config).__name__}")
        self.config = config
        self.source = source
        model = _empty_model(config)
        ckpt.check_keys(model.state_dict(), state_dict, source)
        model.load_state_dict(state_dict, strict=True)
        self.model = model.eval().requires_grad_(False)
        self._sha256 = sha256
        self.batch_size = batch_size
        self.tf32 = bool(tf32)  # CUDA float32 only: let cuDNN/cuBLAS use TF32
        self._pinned: torch.Tensor | None = None
        self._lut_device: torch.Tensor | None = None
        self._lock = threading.Lock()  # one encode/decode at a time (shared pinned buffer)
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.to(device=device, dtype=dtype)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> "VQGAN":
        """Load an open-muse ``VQGANModel`` folder: ``config.json`` + ``model.safetensors``
        or ``pytorch_model.bin`` (safetensors preferred when both are present). ``path`` may be
        an fsspec URL (s3://, gs://, hf://, ...): the folder is copied to a local cache first."""
        folder = ckpt.local_checkpoint(path)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"VQGAN checkpoint folder not found: {folder}")
        config = VQGANConfig.from_json_file(os.path.join(folder, CONFIG_NAME))
        weights_file = ckpt.find_weights_file(folder)
        state = ckpt.load_state_dict(weights_file)
        kwargs.setdefault("sha256", ckpt.checkpoint_sha256(folder))
        return cls(config, state, source=weights_file, **kwargs)

    @classmethod
    def random(cls, preset: str = "lvm", seed: int = 0, **kwargs: Any) -> "VQGAN":
        """A preset ('lvm' or 'tiny') with weights from :func:`checkpoint.random_state_dict`.

        ``sha256`` is the sha256 of the string ``"random:<preset>:seed<seed>"``.
        """
        if preset not in PRESETS:
            raise ValueError(f"unknown VQGAN preset {preset!r}; choose one of {sorted(PRESETS)}")
        config = PRESETS[preset]
        shapes = {k: torch.empty(s, device="meta") for k, s in expected_state_shapes(config).items()}
        state = ckpt.random_state_dict(shapes, seed)
        kwargs.setdefault("sha256", ckpt.random_id_sha256(preset, seed))
        return cls(config, state, source=f"random:{preset}:seed{seed}", **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def sha256(self) -> str:
        """Checkpoint identity for manifests: file hash (see ``checkpoint_sha256``) when loaded
        from a folder, sha256("random:<preset>:seed<N>") for random presets, else a content hash."""
        if self._sha256 is None:
            self._sha256 = ckpt.state_dict_sha256(self.state_dict())
        return self._sha256

    @property
    def weights_sha256(self) -> str:
        """Content hash of the weights (same for a .bin and a .safetensors of one model)."""
        return ckpt.state_dict_sha256(self.state_dict())

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"batch_size must be a positive integer, got {value!r}")
        self._batch_size = value
        self._pinned = None

    @property
    def num_tokens(self) -> int:
        return self.config.num_tokens

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.resolution, c.resolution, c.num_channels)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def __repr__(self) -> str:
        return (f"VQGAN(source={self.source!r}, device={self.device}, dtype={self.dtype}, "
                f"batch_size={self.batch_size}, tokens={self.num_tokens}, "
                f"codebook={self.config.num_embeddings})")

    def __getstate__(self) -> dict[str, Any]:
        # picklable for Ray/Beam: drop the lock and per-device scratch buffers
        state = dict(self.__dict__)
        state.update(_lock=None, _pinned=None, _lut_device=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ placement
    def to(self, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None) -> "VQGAN":
        """Move to ``device`` ('auto'|'cpu'|'cuda[:N]') and/or compute ``dtype``; returns self.

        The weights stay float32; bfloat16/float16 mean autocast.  A ``None`` argument keeps
        the current device; ``dtype=None`` re-resolves 'auto' when the device changes.
        """
        new_device = self.device if device is None else resolve_device(device)
        if dtype is None and new_device != self.device:
            dtype = "auto"
        new_dtype = self.dtype if dtype is None else resolve_dtype(dtype, new_device)
        memory_format = torch.channels_last if new_device.type == "cuda" else torch.contiguous_format
        self.model.to(device=new_device, memory_format=memory_format)
        self.device, self.dtype = new_device, new_dtype
        self._pinned, self._lut_device = None, None
        return self

    def save_pretrained(self, path: str | os.PathLike, *, safe_serialization: bool = False) -> None:
        """Write ``config.json`` + ``pytorch_model.bin`` (+ ``model.safetensors`` if asked)."""
        ckpt.save_checkpoint(path, self.config, self.state_dict(), safe_serialization=safe_serialization)

    # ------------------------------------------------------------------ encode / decode
    def _check_images(self, images: Any) -> np.ndarray:
        expected = self.image_shape
        if not isinstance(images, np.ndarray):
            raise ValueError(f"encode expects a numpy uint8 array [N,{','.join(map(str, expected))}], "
                             f"got {type(images).__name__}")
        if images.dtype != np.uint8:
            raise ValueError(f"encode expects dtype uint8 (pixels 0..255), got {images.dtype}")
        if images.ndim != 4 or images.shape[1:] != expected:
            hint = " (for one image pass images[None])" if images.shape == expected else ""
            raise ValueError(f"encode expects shape [N,{','.join(map(str, expected))}], "
                             f"got {list(images.shape)}{hint}")
        return np.ascontiguousarray(images)

    @contextlib.contextmanager
    def _autocast(self):
        """The compute precision: autocast to bf16/fp16, and on CUDA TF32 on or off for float32."""
        enabled = self.dtype != torch.float32
        with cuda_tf32(self.tf32 if self.device.type == "cuda" else None):
            with torch.autocast(device_type=self.device.type, dtype=self.dtype, enabled=enabled):
                yield

    def _to_pixels(self, chunk: np.ndarray) -> torch.Tensor:
        """uint8 NHWC micro-batch (already padded) -> float32 NCHW in [0, 1] on the device."""
        if self.device.type == "cpu":
            return torch.from_numpy(_PIXEL_LUT[chunk]).permute(0, 3, 1, 2).contiguous()
        if self._pinned is None or tuple(self._pinned.shape) != chunk.shape:
            self._pinned = torch.empty(chunk.shape, dtype=torch.uint8, pin_memory=True)
            self._lut_device = torch.from_numpy(_PIXEL_LUT).to(self.device)
        self._pinned.numpy()[...] = chunk
        on_device = self._pinned.to(self.device, non_blocking=True)
        pixels = self._lut_device[on_device.long()]            # NHWC float32
        return pixels.permute(0, 3, 1, 2)                       # NCHW view, channels_last strides

    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 images [N, 256, 256, 3] -> uint16 codes [N, 256] (row-major 16x16 grid)."""
        images = self._check_images(images)
        n, bs = images.shape[0], self.batch_size
        out = np.empty((n, self.num_tokens), dtype=np.uint16)
        padded = np.zeros((bs,) + self.image_shape, dtype=np.uint8) if n % bs else None
        with self._lock, torch.inference_mode():
            for start in range(0, n, bs):
                chunk = images[start:start + bs]
                count = chunk.shape[0]
                if count < bs:
                    padded[:count] = chunk
                    padded[count:] = 0
                    chunk = padded
                with self._autocast():
                    codes = self.model.get_code(self._to_pixels(chunk))
                out[start:start + count] = codes[:count].to("cpu").numpy().astype(np.uint16)
        return out

    def _check_codes(self, codes: Any) -> np.ndarray:
        if not isinstance(codes, np.ndarray) or not np.issubdtype(codes.dtype, np.integer):
            kind = type(codes).__name__ if not isinstance(codes, np.ndarray) else codes.dtype
            raise ValueError(f"decode expects an integer numpy array [N,{self.num_tokens}], got {kind}")
        if codes.ndim != 2 or codes.shape[1] != self.num_tokens:
            raise ValueError(f"decode expects shape [N,{self.num_tokens}], got {list(codes.shape)}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.config.num_embeddings):
            raise ValueError(f"codes must be in [0, {self.config.num_embeddings}), "
                             f"got range [{codes.min()}, {codes.max()}]")
        return codes.astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """codes [N, 256] -> uint8 images [N, 256, 256, 3] (clamped to [0,1], x255, rounded)."""
        codes = self._check_codes(codes)
        n, bs = codes.shape[0], self.batch_size
        out = np.empty((n,) + self.image_shape, dtype=np.uint8)
        with self._lock, torch.inference_mode():
            for start in range(0, n, bs):
                chunk = codes[start:start + bs]
                count = chunk.shape[0]
                if count < bs:
                    chunk = np.concatenate([chunk, np.zeros((bs - count, chunk.shape[1]), np.int64)])
                index = torch.from_numpy(chunk).to(self.device)
                with self._autocast():
                    pixels = self.model.decode_code(index)
                pixels = pixels[:count].float().clamp_(0.0, 1.0).mul_(255.0).round_()
                out[start:start + count] = pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return out
