"""tokenize_with: the codes of a unit's sequences, encoded a chunk of images at a time through one
buffer per thread that every unit reuses. Real tiny VQGAN (random weights), real sequences."""

from __future__ import annotations

import threading

import numpy as np

from uvd_pipeline.pipeline.tokenize import tokenize_with
from uvd_pipeline.tokenizer import VQGAN
from uvd_pipeline.types import Image, VisualSequence


def _sequences(lengths: list[int], seed: int) -> list[VisualSequence]:
    rng = np.random.default_rng(seed)
    out = []
    for k, n in enumerate(lengths):
        images = [Image(f"s{k}i{j}", rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)) for j in range(n)]
        out.append(VisualSequence(images=images, task="t", records=[f"r{k}"], id=f"seq{k}"))
    return out


def test_chunked_codes_equal_one_call_and_every_image_keeps_its_own():
    model = VQGAN.random(preset="tiny", seed=0)
    model.batch_size = 4
    sequences = _sequences([1, 5, 2, 3], seed=1)  # 11 images
    whole = model.encode(np.stack([im.pixels for s in sequences for im in s.images]))
    seen: list[int] = []

    def encode(pixels: np.ndarray) -> np.ndarray:
        seen.append(len(pixels))
        return model.encode(pixels)

    for chunk in (3, 4, 11, 256):
        seen.clear()
        tokens = tokenize_with(encode, sequences, chunk=chunk)
        assert seen == [min(chunk, 11 - i) for i in range(0, 11, chunk)]
        assert [t.id for t in tokens] == [s.id for s in sequences]
        assert np.array_equal(np.concatenate([t.tokens for t in tokens]), whole.reshape(-1)), chunk


def test_units_reuse_one_buffer_per_thread_and_threads_do_not_share_it():
    buffers: dict[str, list[np.ndarray]] = {}

    def recording(name: str):
        def encode(pixels: np.ndarray) -> np.ndarray:
            owner = pixels if pixels.base is None else pixels.base
            buffers.setdefault(name, []).append(owner)  # kept alive: no two buffers share an id
            return np.zeros((len(pixels), 256), np.uint16)
        return encode

    for seed, lengths in enumerate(([3], [2, 1], [1])):  # three units, none larger than the first
        tokenize_with(recording("main"), _sequences(lengths, seed))
    assert len(buffers["main"]) == 3 and len({id(b) for b in buffers["main"]}) == 1
    other = threading.Thread(target=tokenize_with, args=(recording("other"), _sequences([2], 9)))
    other.start()
    other.join()
    assert not np.shares_memory(buffers["other"][0], buffers["main"][0])
