import collections

import numpy as np
import pytest
from pydantic import ValidationError

from uvd_pipeline.samples.annotated import make_paired
from uvd_pipeline.sources.paired import PairedSource
from uvd_pipeline.types import Item, Reject, WorkUnit


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    make_paired(root, np.random.default_rng(0))
    return root / "paired"


def _read(src):
    out = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"u{i}", "paired", i, payload)))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Reject)]


def test_two_folders_pair_by_name_and_orphans_are_rejected(paired):
    src = PairedSource(input=str(paired / "rainy"), output=str(paired / "clean"), unit_size=5)
    assert [len(u["pairs"]) for u in src.units()] == [5, 5, 5, 1]
    items, rejects = _read(src)
    assert len(items) == 16
    assert [(r.record, r.reason) for r in rejects] == [("input/orphan.jpg", "no_partner")]
    for item in items:
        stem = item.record.rsplit(".", 1)[0]
        assert item.meta["output"].endswith(f"clean/{stem}.png")
        view = item.views["output"]
        assert view.pixels.shape[2] == 3 and view.id != item.image.id
        assert view.pixels.shape == item.image.pixels.shape  # the same scene in both folders


@pytest.mark.parametrize("name, bad", [("pairs.csv", {"pairs.csv:10": "missing_field", "pairs.csv:11": "unreadable_file"}),
                                       ("pairs.jsonl", {"pairs.jsonl:9": "bad_row", "pairs.jsonl:10": "missing_field"})])
def test_pair_lists_resolve_relative_paths_and_reject_bad_rows(paired, name, bad):
    items, rejects = _read(PairedSource(pairs_file=str(paired / name), view="clean"))
    assert len(items) == 8 and all("clean" in i.views for i in items)
    assert {r.record: r.reason for r in rejects} == bad


def test_ambiguous_names_are_rejected(tmp_path):
    from PIL import Image

    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "a" / "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "a" / "x.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "b" / "x.png")
    items, rejects = _read(PairedSource(input=str(tmp_path / "a"), output=str(tmp_path / "b")))
    assert not items and collections.Counter(r.reason for r in rejects) == {"ambiguous_name": 3}


def test_layout_params_are_checked(paired):
    with pytest.raises(ValidationError):
        PairedSource(input="a")
    with pytest.raises(ValidationError):
        PairedSource(input="a", output="b", pairs_file="c.csv")
    with pytest.raises(ValidationError):
        PairedSource()
