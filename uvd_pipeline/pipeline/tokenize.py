"""The tokenizer stage: a VQGAN loaded once per worker, encoding sequences' images in batches."""

from __future__ import annotations

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


def tokenize_with(encode, sequences: list[VisualSequence]) -> list[TokenSequence]:
    """Encode all images of `sequences` in one call (the model batches) and split the codes back."""
    if not sequences:
        return []
    images = [im.pixels for s in sequences for im in s.images]
    pixels = np.empty((len(images), *images[0].shape), np.uint8)  # one copy of each image, no stack
    for i, px in enumerate(images):
        pixels[i] = px
    codes = encode(pixels)
    out, pos = [], 0
    for s in sequences:
        n = len(s.images)
        out.append(TokenSequence.from_sequence(s, codes[pos : pos + n]))
        pos += n
    return out


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
