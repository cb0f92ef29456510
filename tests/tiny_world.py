"""The smallest world in real formats that still has each kind of still-image source, for tests
that run whole recipes and want to be quick (interop readers, S3 storage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_tiny_world(root: Path) -> Path:
    """8 images (+2 bad files) in root/images and 2 webdataset tars of 4 in root/webdataset,
    always the same (seed 0); returns root."""
    from uvd_pipeline.samples.world import make_images, make_webdataset

    rng = np.random.default_rng(0)
    make_images(root, rng, n=8)
    make_webdataset(root, rng, shards=2, per_shard=4)
    return root
