"""A source plugin used by the timeout and lease tests, registered through a real entry point
(`install`): an image folder whose read() stalls on one file, as a hung decoder, a FIFO or a dead
mount would. With `once_marker` it stalls only the first time (the marker file records it did)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from uvd_pipeline.sources.image_folder import ImageFolderParams, ImageFolderSource
from uvd_pipeline.types import Item, Reject

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = "[uvd_pipeline.sources]\ntest_stall = tests.engines.stall_plugins:StallingFolder\n"


class StallParams(ImageFolderParams):
    stall_on: str = ""  # the file (relative to the folder) whose read never returns
    stall_seconds: float = 3600.0
    once_marker: str = ""


class StallingFolder(ImageFolderSource):
    # its own name: the registry sets `name` on a plugin class it loads, and a subclass would
    # otherwise inherit "image_folder" from its parent once that was loaded in this process
    name: ClassVar[str] = "test_stall"
    Params = StallParams

    def read_file(self, url: str, record: str, source: str) -> Iterator[Item | Reject]:
        if record == self.params.stall_on and self._first_time():
            time.sleep(self.params.stall_seconds)
        yield from super().read_file(url, record, source)

    def _first_time(self) -> bool:
        if not self.params.once_marker:
            return True
        try:
            with open(self.params.once_marker, "x"):
                return True
        except FileExistsError:
            return False


def install(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """Make `test_stall` an installed source for this process and the processes it starts (Ray
    workers, `uvd run` subprocesses, child builders): returns the environment they need."""
    from uvd_pipeline import registry

    site = tmp_path / "stall-site"
    dist = site / "uvd_stall_plugins-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: uvd-stall-plugins\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    for p in (str(site), str(REPO)):
        monkeypatch.syspath_prepend(p)
    path = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    registry.clear_cache()
    return {**os.environ, "PYTHONPATH": path}


def stall_recipe(images: Path, stall_on: str = "", unit_size: int = 2, **params) -> dict:
    return {
        "name": "stall",
        "tokenizer": {"preset": "tiny", "batch_size": 8, "device": "cpu"},
        "sources": [{
            "name": "stalling", "plugin": "test_stall", "category": "unlabelled_images",
            "params": {"path": str(images), "unit_size": unit_size, "stall_on": stall_on, **params},
        }],
    }


def write_images(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (40, 32), (20 * i % 256, 100, 200)).save(folder / f"img{i:02d}.png")
    return folder
