"""The tokenizer stage: a VQGAN loaded once per worker, encoding sequences' images in batches."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..recipe import TokenizerSpec
from ..types import TokenSequence, VisualSequence


def load_tokenizer(spec: TokenizerSpec, device: str | None = None):
    from ..tokenizer import VQGAN

    dev = device or spec.device
    precision = {"dtype": spec.dtype, "tf32": spec.tf32}
    if spec.checkpoint:
        model = VQGAN.from_pretrained(spec.checkpoint, device=dev, **precision)
    else:
        model = VQGAN.random(preset=spec.preset, seed=spec.seed, device=dev, **precision)
    model.batch_size = spec.batch_size
    return model


class TokenizerStage:
    def __init__(self, spec: TokenizerSpec | dict, device: str | None = None) -> None:
        self.spec = spec if isinstance(spec, TokenizerSpec) else TokenizerSpec.model_validate(spec)
        self.model = load_tokenizer(self.spec, device)

    @property
    def identity(self) -> dict[str, Any]:
        """The effective tokenizer this stage runs (see tokenizer_identity)."""
        return tokenizer_identity(self.spec, self.model.device.type)

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """[N, 256, 256, 3] uint8 -> [N, 256] uint16 codes."""
        return self.model.encode(pixels)

    def tokenize(self, sequences: list[VisualSequence]) -> list[TokenSequence]:
        return tokenize_with(self.encode, sequences)


ENCODE_CHUNK = 256  # images per encode call: 48 MiB of pixels, whatever the unit's size


def tokenize_with(encode, sequences: list[VisualSequence], chunk: int = ENCODE_CHUNK) -> list[TokenSequence]:
    """Encode the images of `sequences` (`encode`: [n, 256, 256, 3] uint8 -> [n, 256] codes, called
    with at most `chunk` images at a time; the model batches within) and split the codes back.

    The pixels go into a buffer this thread keeps for its next unit: a fresh one per unit cost the
    build path ~0.1 ms an image (a new mapping to fault in, on huge pages, each time; BENCHMARKS.md),
    and a LAION-sized unit (~10,000 images) would need 1.9 GiB at once. `encode` must not keep its
    argument after it returns (the tokenizer copies it to the device; Ray serializes it)."""
    if not sequences:
        return []
    images = [im.pixels for s in sequences for im in s.images]
    codes = None
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        pixels = _pixel_buffer(len(part), images[0].shape)
        for i, px in enumerate(part):
            pixels[i] = px
        got = encode(pixels)
        if codes is None:
            codes = np.empty((len(images), *got.shape[1:]), got.dtype)
        codes[start : start + len(part)] = got
    out, pos = [], 0
    for s in sequences:
        n = len(s.images)
        out.append(TokenSequence.from_sequence(s, codes[pos : pos + n]))
        pos += n
    return out


_buffers = threading.local()


def _pixel_buffer(n: int, shape: tuple[int, ...]) -> np.ndarray:
    """n images' worth of this thread's reusable uint8 buffer (grown when a unit needs more)."""
    buf = getattr(_buffers, "pixels", None)
    if buf is None or buf.shape[1:] != tuple(shape) or buf.shape[0] < n:
        buf = _buffers.pixels = np.empty((n, *shape), np.uint8)
    return buf[:n]


def tokenizer_fingerprint(spec: TokenizerSpec) -> str:
    """The sha256 recorded in dataset.json: of the checkpoint's config + weights files, or of
    the random preset's identity ("random:<preset>:seed<N>"). A checkpoint that would not load
    (a config out of bounds, weights refused by weights_only or not matching the config) is a
    RecipeError naming the file: callers run this before any output exists."""
    from ..errors import RecipeError
    from ..tokenizer.checkpoint import checkpoint_sha256, random_id_sha256
    from ..tokenizer.preflight import check_checkpoint

    if spec.checkpoint is None:
        return random_id_sha256(spec.preset, spec.seed)
    try:
        check_checkpoint(spec.checkpoint)
        return checkpoint_sha256(spec.checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        raise RecipeError(f"tokenizer.checkpoint: {exc}") from None


def tokenizer_identity(spec: TokenizerSpec, device_kind: str) -> dict[str, Any]:
    """What decides the codes besides the weights: the device kind ("cpu" or "cuda"), the compute
    dtype, whether float32 uses TF32 (CUDA float32 only), and the torch version. Recorded in
    recipe.resolved.yaml, dataset.json and every ledger entry; a resume must match it."""
    import torch

    return {
        "device": device_kind,
        "dtype": spec.dtype,
        "tf32": bool(spec.tf32 and device_kind == "cuda" and spec.dtype == "float32"),
        "torch": str(torch.__version__),
    }
