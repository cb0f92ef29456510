"""A PyTorch IterableDataset over a committed output directory, for training straight from it.

Each sequence becomes BOS + tokens + EOS; sequences are shuffled (seeded, per epoch), dealt
round-robin to the (rank, worker) shards, and each shard concatenates its sequences and cuts the
stream into fixed windows (default 4096 tokens; a sequence may continue into the next window, as
in LVM's and EasyLM's packing). The last window of a shard is padded and its `loss_mask` is
False on the padding, so within an epoch every sequence is seen exactly once (times its
source's `repeat`), none lost, none repeated.

    ds = PackedSequences("out/demo", window=4096, seed=0)
    for epoch in range(n):
        ds.set_epoch(epoch)
        for batch in DataLoader(ds, batch_size=8, num_workers=4): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..ids import seed_for
from ..manifests.reader import Dataset
from .common import DEFAULT_BOS, DEFAULT_EOS, DEFAULT_VOCAB_SIZE, check_special, selected_rows, source_repeats


class PackedSequences(IterableDataset):
    def __init__(
        self,
        root: str,
        window: int = 4096,
        bos: int | None = DEFAULT_BOS,
        eos: int | None = DEFAULT_EOS,
        pad: int | None = None,
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        split: str = "train",
        seed: int = 0,
        shuffle: bool = True,
        repeat: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        check_special(bos, eos, vocab_size)
        self.pad = pad if pad is not None else (eos if eos is not None else 0)
        if not 0 <= self.pad < vocab_size:
            raise ValueError(f"pad {self.pad} lies outside the vocabulary [0, {vocab_size})")
        self.root, self.window, self.bos, self.eos, self.vocab_size = root, window, bos, eos, vocab_size
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0
        self.rank, self.world_size = rank, world_size
        ds = Dataset(root)
        rows = selected_rows(ds, split)
        repeats = source_repeats(ds) if repeat else {}
        expanded = [r for r in rows for _ in range(repeats.get(r["source"], 1))]
        self.shards = sorted({r["shard"] for r in rows})
        shard_no = {s: i for i, s in enumerate(self.shards)}
        self.sequence_ids = [r["sequence_id"] for r in expanded]
        self._shard = np.array([shard_no[r["shard"]] for r in expanded], np.int32)
        self._offset = np.array([r["offset"] for r in expanded], np.int64)
        self._length = np.array([r["n_tokens"] for r in expanded], np.int64)
        self._dataset: Dataset | None = None

    def __len__(self) -> int:
        """Sequences per epoch over all ranks and workers (not windows)."""
        return len(self.sequence_ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        """This epoch's order of all sequences (the same on every rank and worker)."""
        n = len(self.sequence_ids)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng(seed_for("packed", self.seed, self.epoch)).permutation(n)

    def shard_of(self, rank: int, world_size: int, worker: int, workers: int) -> np.ndarray:
        """Indices (into sequence_ids) that one (rank, worker) reads this epoch."""
        k, total = rank * workers + worker, world_size * workers
        return self.order()[k::total]

    def _where(self) -> tuple[int, int, int, int]:
        rank, world = self.rank, self.world_size
        if rank is None or world is None:
            dist = torch.distributed
            live = dist.is_available() and dist.is_initialized()
            rank = rank if rank is not None else (dist.get_rank() if live else 0)
            world = world if world is not None else (dist.get_world_size() if live else 1)
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside world size {world}")
        info = get_worker_info()
        return rank, world, (info.id if info else 0), (info.num_workers if info else 1)

    def _tokens(self, i: int) -> np.ndarray:
        if self._dataset is None:  # opened lazily, once per worker process
            self._dataset = Dataset(self.root)
        shard = self._dataset.shard(self.shards[self._shard[i]])
        return shard[self._offset[i] : self._offset[i] + self._length[i]]

    def windows(self, indices: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(tokens int64 [window], loss_mask bool [window]) packed from the given sequences."""
        buf = np.empty(self.window, np.int64)
        fill = 0
        for i in indices:
            parts = ([self.bos] if self.bos is not None else []), self._tokens(int(i)), ([self.eos] if self.eos is not None else [])
            stream = np.concatenate([np.asarray(p, np.int64) for p in parts])
            pos = 0
            while pos < stream.size:
                take = min(self.window - fill, stream.size - pos)
                buf[fill : fill + take] = stream[pos : pos + take]
                fill, pos = fill + take, pos + take
                if fill == self.window:
                    yield buf.copy(), np.ones(self.window, bool)
                    fill = 0
        if fill:
            mask = np.zeros(self.window, bool)
            mask[:fill] = True
            buf[fill:] = self.pad
            yield buf.copy(), mask

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world, worker, workers = self._where()
        for tokens, mask in self.windows(self.shard_of(rank, world, worker, workers)):
            yield {"input_ids": torch.from_numpy(tokens), "loss_mask": torch.from_numpy(mask)}
