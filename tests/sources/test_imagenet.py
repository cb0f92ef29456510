import collections

import numpy as np
import pytest
from PIL import Image as PILImage

from uvd_pipeline.sources.imagenet import ImageNetSource
from uvd_pipeline.types import Image, Item, Reject, WorkUnit


@pytest.fixture
def imagenet(tmp_path):
    root = tmp_path / "train"
    for c, wnid in enumerate(["n02", "n01", "n03"]):
        for k in range(3 + c):
            (root / wnid).mkdir(parents=True, exist_ok=True)
            PILImage.new("RGB", (20 + k, 16), (40 * c, 10 * k, 99)).save(root / wnid / f"{wnid}_{k}.JPEG")
    (root / "stray.JPEG").write_bytes(b"")  # not in a class folder: not ImageNet layout, not read
    (root / "n01" / "n01_bad.JPEG").write_bytes(b"\xff\xd8 truncated")
    return root


def _read(src):
    out = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"u{i}", "imagenet", i, payload)))
    return out


def test_units_hold_whole_classes_in_sorted_order(imagenet):
    units = ImageNetSource(path=str(imagenet), classes_per_unit=2).units()
    assert [[c["name"] for c in u["classes"]] for u in units] == [["n01", "n02"], ["n03"]]
    assert [[c["index"] for c in u["classes"]] for u in units] == [[0, 1], [2]]
    src = ImageNetSource(path=str(imagenet), classes_per_unit=2)
    assert [src.count_records(u) for u in units] == [4 + 1 + 3, 5]  # n01 holds one broken file


def test_items_carry_their_class_and_bad_files_are_rejected(imagenet):
    out = _read(ImageNetSource(path=str(imagenet), classes_per_unit=2))
    items = [o for o in out if isinstance(o, Item)]
    rejects = [o for o in out if isinstance(o, Reject)]
    assert collections.Counter(i.meta["class"] for i in items) == {"n01": 4, "n02": 3, "n03": 5}
    assert {i.meta["class_index"] for i in items if i.meta["class"] == "n03"} == {2}
    assert [(r.record, r.reason) for r in rejects] == [("n01/n01_bad.JPEG", "not_an_image")]
    assert all(i.record.startswith(i.meta["class"] + "/") for i in items)
    ids = [i.image.id for i in items]
    assert len(set(ids)) == len(ids)


def test_max_per_class_caps_each_class(imagenet):
    units = ImageNetSource(path=str(imagenet), max_per_class=2).units()
    assert [len(c["files"]) for c in units[0]["classes"]] == [2, 2, 2]


def test_class_groups_end_to_end_in_one_unit(imagenet):
    from uvd_pipeline.sequencers.class_groups import ClassGroupsSequencer

    src = ImageNetSource(path=str(imagenet))
    items = [o for o in _read(src) if isinstance(o, Item)]
    for it in items:
        it.image = Image(it.image.id, np.zeros((256, 256, 3), np.uint8))
    out = list(ClassGroupsSequencer(group_sizes=[2, 4], length=4).build(items, np.random.default_rng(0)))
    seqs = [o for o in out if not isinstance(o, Reject)]
    assert seqs and all(len(s.images) == 4 for s in seqs)
