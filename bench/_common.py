"""What the engine benchmarks share: sample inputs, a stand-in tokenizer, timing and memory probes."""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from uvd_pipeline.samples.pictures import picture


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    return f"{model}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def make_images(root: Path, n: int, size: tuple[int, int] = (640, 480), seed: int = 0) -> Path:
    """n JPEG files of `size` under root (kept if already there)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = root / f"{i:06d}.jpg"
        img = picture(rng, *size)
        if not path.exists():
            img.save(path, quality=90)
    return root


def folder_recipe(images: Path, unit_size: int, preset: str = "tiny", batch_size: int = 16) -> dict[str, Any]:
    return {
        "name": "bench",
        "seed": 0,
        "tokenizer": {"preset": preset, "batch_size": batch_size},
        "sources": [
            {
                "name": "img",
                "plugin": "image_folder",
                "params": {"path": str(images), "unit_size": unit_size},
                "category": "unlabelled_images",
            }
        ],
    }


class SleepTokenizer:
    """A stand-in tokenizer that takes a fixed time per image and no CPU (a GPU seen from the
    host); its codes are a cheap function of the pixels so outputs are still per-image."""

    def __init__(self, seconds_per_image: float) -> None:
        self.seconds_per_image = seconds_per_image

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        if self.seconds_per_image:
            time.sleep(self.seconds_per_image * len(pixels))
        means = pixels.reshape(len(pixels), -1)[:, :: 4099].astype(np.uint16)
        return np.resize(means, (len(pixels), 256)).astype(np.uint16)

    def __call__(self) -> SleepTokenizer:  # a factory of itself, as engines take one
        return self


def register_by_value() -> None:
    """Ray workers cannot import bench/: ship this module's classes by value."""
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


class TreeRss:
    """Peak of the summed memory of a process and all its descendants, sampled in a thread:
    RSS (what `ps` shows; shared pages count once per process) and, with pss=True, PSS (shared
    pages split among the processes that map them, so the sum is the tree's real footprint)."""

    def __init__(self, pid: int, every: float = 0.05, pss: bool = False) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.pss = pss
        self.peak = 0
        self.peak_pss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _totals(self) -> tuple[int, int]:
        import psutil

        rss = pss = 0
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return 0, 0
        for p in procs:
            try:
                if self.pss:
                    info = p.memory_full_info()
                    pss += info.pss
                else:
                    info = p.memory_info()
                rss += info.rss
            except psutil.Error:
                continue
        return rss, pss

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = self._totals()
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            self.samples += 1
            self._stop.wait(self.every)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn, *args, **kwargs) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out
