"""Reading, writing, hashing and randomly initialising VQGAN checkpoints.

A checkpoint is a folder in open-muse's layout: ``config.json`` plus the weights as
``pytorch_model.bin`` (a pickled state dict, read with ``torch.load(weights_only=True)``,
so a file that pickles anything but tensors is refused) and/or ``model.safetensors``
(``pytorch_model.safetensors``, open-muse's own name for it, is read too).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zlib
from typing import Mapping

import numpy as np
import torch

from .config import CONFIG_NAME, VQGANConfig

BIN_NAME = "pytorch_model.bin"
SAFETENSORS_NAME = "model.safetensors"
# Looked up in this order: safetensors first (no pickle involved), then the .bin.
WEIGHTS_NAMES = (SAFETENSORS_NAME, "pytorch_model.safetensors", BIN_NAME)


class CheckpointError(ValueError):
    """A checkpoint folder or file that cannot be used (names the file)."""


#: Where checkpoints given as URLs (s3://, gs://, hf://, ...) are copied; env UVD_CACHE_DIR moves it.
def cache_root() -> str:
    base = os.environ.get("UVD_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "uvd_pipeline")
    return os.path.join(base, "checkpoints")


def local_checkpoint(path: str | os.PathLike) -> str:
    """A local path for a checkpoint folder given as a local path or an fsspec URL.

    A URL's ``config.json`` and weights file are copied once into ``cache_root()/<key>/``, where
    the key hashes the URL with each file's size and ETag/mtime as the store reports them, so a
    changed checkpoint is fetched again. The copy is made in a temporary folder and renamed into
    place, so concurrent workers on one machine never load a half-copied file.
    """
    import json
    import shutil
    import tempfile

    from fsspec.core import url_to_fs

    text = os.fspath(path)
    if "://" not in text or text.startswith("file://"):
        return text.removeprefix("file://")
    fs, inner = url_to_fs(text)
    inner = inner.rstrip("/")
    if not fs.isdir(inner):
        raise FileNotFoundError(f"VQGAN checkpoint folder not found: {text}")
    names = [CONFIG_NAME] + [n for n in WEIGHTS_NAMES if fs.isfile(f"{inner}/{n}")][:1]
    if len(names) < 2:
        raise FileNotFoundError(
            f"VQGAN checkpoint folder {text} has no weights file (looked for {', '.join(WEIGHTS_NAMES)})"
        )
    stamps = []
    for name in names:
        info = fs.info(f"{inner}/{name}")
        stamp = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified") or ""
        stamps.append([name, info.get("size"), str(stamp)])
    key = hashlib.sha256(json.dumps([text, stamps]).encode("utf-8")).hexdigest()[:32]
    target = os.path.join(cache_root(), key)
    if os.path.isfile(os.path.join(target, CONFIG_NAME)):
        return target
    os.makedirs(cache_root(), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".partial-", dir=cache_root())
    try:
        for name in names:
            fs.get_file(f"{inner}/{name}", os.path.join(tmp, name))
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race: its copy is the same files
            if not os.path.isfile(os.path.join(target, CONFIG_NAME)):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def find_weights_file(path: str | os.PathLike) -> str:
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"VQGAN checkpoint folder not found: {folder}")
    for name in WEIGHTS_NAMES:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"VQGAN checkpoint folder {folder} has no weights file (looked for {', '.join(WEIGHTS_NAMES)})"
    )


def load_state_dict(weights_file: str | os.PathLike, *, mmap: bool = False) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.bin`` (weights_only pickle) or ``.safetensors``; CPU tensors.
    `mmap`: a ``.bin``'s tensors stay in the file until touched (zip-format files only)."""
    weights_file = os.fspath(weights_file)
    if weights_file.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(weights_file, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{weights_file}: not a valid safetensors file: {exc}") from exc
    else:
        try:
            state = torch.load(weights_file, weights_only=True, map_location="cpu", mmap=mmap)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(
                f"{weights_file}: refused to load: it is not a plain tensor state dict "
                f"(torch.load(weights_only=True) failed: {_unpickling_reason(exc)})"
            ) from exc
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise CheckpointError(f"{weights_file}: not a readable PyTorch checkpoint: {exc}") from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{weights_file}: expected a state dict (mapping), got {type(state).__name__}")
    bad = sorted(str(k) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor))
    if bad:
        raise CheckpointError(f"{weights_file}: entries that are not named tensors: {bad[:10]}")
    return dict(state)


def _unpickling_reason(exc: Exception) -> str:
    """The sentence of torch's long weights_only message that says why (e.g. "Unsupported global:
    GLOBAL io.open was not an allowed global by default"), without its terminal colours."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    for line in text.splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return text.splitlines()[0] if text else type(exc).__name__


def check_keys(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise a CheckpointError listing missing/unexpected keys and shape mismatches."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(found)
        if tuple(found[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {unexpected}")
        if mismatched:
            parts.append(f"shape mismatches ({len(mismatched)}): {mismatched}")
        raise CheckpointError(
            f"{source}: weights do not match an open-muse VQGANModel with this config.json; " + "; ".join(parts)
        )


def save_checkpoint(folder: str | os.PathLike, config: VQGANConfig, state: Mapping[str, torch.Tensor],
                    *, safe_serialization: bool = False) -> None:
    """Write ``config.json`` + ``pytorch_model.bin`` (+ ``model.safetensors`` if asked)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    cpu_state = {k: v.detach().to("cpu").contiguous() for k, v in sorted(state.items())}
    _atomic_write(os.path.join(folder, CONFIG_NAME), config.to_json_string().encode("utf-8"))
    tmp = os.path.join(folder, BIN_NAME + ".tmp")
    torch.save(cpu_state, tmp)
    os.replace(tmp, os.path.join(folder, BIN_NAME))
    if safe_serialization:
        from safetensors.torch import save_file

        tmp = os.path.join(folder, SAFETENSORS_NAME + ".tmp")
        save_file(cpu_state, tmp, metadata={"format": "pt"})
        os.replace(tmp, os.path.join(folder, SAFETENSORS_NAME))


def _atomic_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_sha256(path: str | os.PathLike) -> str:
    """Hash of a checkpoint folder's files as loaded: ``config.json`` and the weights file.

    sha256 over the lines ``"<file name> <sha256 of its bytes>\\n"`` for config.json and
    the weights file that :func:`find_weights_file` picks (so extra files do not count).
    A path to a single file hashes that file's bytes.
    """
    path = local_checkpoint(path)
    if os.path.isfile(path):
        return _file_sha256(path)
    config_file = os.path.join(path, CONFIG_NAME)
    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"VQGAN config not found: {config_file}")
    weights_file = find_weights_file(path)
    manifest = "".join(
        f"{os.path.basename(f)} {_file_sha256(f)}\n" for f in (config_file, weights_file)
    )
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def random_id_sha256(preset: str, seed: int) -> str:
    """Identifier hash for randomly initialised presets: sha256 of ``"random:<preset>:seed<seed>"``."""
    return hashlib.sha256(f"random:{preset}:seed{seed}".encode("utf-8")).hexdigest()


def state_dict_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """Content hash of tensors (independent of file format): sorted name, dtype, shape, bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode("utf-8"))
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def random_state_dict(reference: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic random weights for every tensor of ``reference`` (only names and shapes used).

    Each tensor gets its own stream ``numpy.random.default_rng([seed, crc32(name)])`` so a
    tensor's values depend only on (seed, name, shape), never on construction order:
      * 4-D conv weights ~ N(0, 1/fan_in) (variance preserving; GroupNorm keeps scales sane),
      * 1-D ``*.weight`` (GroupNorm gains) = 1 + N(0, 0.1^2), 1-D ``*.bias`` ~ N(0, 0.02^2),
      * the 2-D codebook: standard normal rows rescaled to unit L2 norm.  With equal norms the
        nearest entry is the one best aligned with the latent, so random encoders of natural
        images spread over many codes instead of collapsing onto the smallest-norm entry.
    Values are drawn in float64 and stored as float32.
    """
    out: dict[str, torch.Tensor] = {}
    for name in sorted(reference):
        shape = tuple(reference[name].shape)
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])
        if len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            values = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif len(shape) == 2:
            values = rng.standard_normal(shape)
            values /= np.linalg.norm(values, axis=1, keepdims=True)
        elif len(shape) == 1 and name.endswith(".weight"):
            values = 1.0 + 0.1 * rng.standard_normal(shape)
        elif len(shape) == 1:
            values = 0.02 * rng.standard_normal(shape)
        else:
            raise ValueError(f"random_state_dict: no rule for {name} with shape {shape}")
        out[name] = torch.from_numpy(values.astype(np.float32))
    return out
