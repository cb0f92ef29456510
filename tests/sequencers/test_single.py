import numpy as np

from uvd_pipeline.sequencers.single import SingleImageSequencer
from uvd_pipeline.types import Image, Item


def test_one_image_per_sequence_in_item_order():
    items = [Item(f"r{i}", Image(f"id{i}", np.full((256, 256, 3), i, np.uint8))) for i in range(3)]
    seqs = list(SingleImageSequencer().build(items, np.random.default_rng(0)))
    assert [s.records for s in seqs] == [["r0"], ["r1"], ["r2"]]
    assert [s.image_ids for s in seqs] == [["id0"], ["id1"], ["id2"]]
    assert all(len(s.images) == 1 for s in seqs)
