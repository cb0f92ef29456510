"""The hand_keypoints_csv source on generated data: conformance, items, rejects, planning errors."""

from __future__ import annotations

import csv

import pytest
from PIL import Image as PILImage

from uvd_pipeline import registry
from uvd_pipeline.testing import check_source, sample_units
from uvd_pipeline.types import Item, Reject
from uvd_plugin_example.hand import N_KEYPOINTS, csv_columns
from uvd_plugin_example.sample_data import make_hand_data
from uvd_plugin_example.source import HandCsvError, HandKeypointsCsvSource


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("hands")
    planted = make_hand_data(root, n_images=6, seed=3, faults=True)
    return root, planted


def read_all(source):
    return [out for unit in sample_units(source) for out in source.read(unit)]


def test_registered_through_its_entry_point():
    assert registry.load("source", "hand_keypoints_csv") is HandKeypointsCsvSource


def test_conformance(tmp_path):
    check_source(HandKeypointsCsvSource, tmp_dir=tmp_path)


def test_the_generator_writes_real_jpegs_and_a_csv_with_the_21_point_header(data):
    root, planted = data
    with open(root / "hands.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == csv_columns() and len(csv_columns()) == 2 + 3 * N_KEYPOINTS
    assert len(rows) == planted["rows"] == 6 + 2 + 4  # images 0 and 3 hold two hands; 4 faulty rows
    with PILImage.open(root / "images" / "hand_0001.jpg") as im:
        assert im.format == "JPEG" and im.size == (128, 128)


def test_every_record_is_an_item_or_a_reject_with_the_planted_reason(data):
    root, _ = data
    out = read_all(HandKeypointsCsvSource(csv=str(root / "hands.csv"), unit_size=4))
    items = [o for o in out if isinstance(o, Item)]
    rejects = {o.record: o.reason for o in out if isinstance(o, Reject)}
    assert [it.record for it in items] == [f"images/hand_{i:04d}.jpg" for i in range(6)]
    assert rejects == {
        "images/hand_bad_coordinate.jpg": "bad_keypoints",
        "images/hand_missing.jpg": "missing_image",
        "images/hand_truncated.jpg": "corrupt_image",
        "hands.csv:13": "bad_row",  # header is line 1, then 12 rows
    }
    assert [len(it.meta["hands"]) for it in items] == [2, 1, 1, 2, 1, 1]
    hand = items[1].meta["hands"][0]
    assert hand["side"] == "right" and len(hand["keypoints"]) == N_KEYPOINTS
    assert items[1].image.pixels.shape == (128, 128, 3)


def test_keypoints_are_the_csv_values(data):
    root, _ = data
    with open(root / "hands.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["image"] == "images/hand_0002.jpg")
    item = next(o for o in read_all(HandKeypointsCsvSource(csv=str(root / "hands.csv"))) if o.record == row["image"])
    got = item.meta["hands"][0]["keypoints"]
    for k in range(N_KEYPOINTS):
        v = int(row[f"v{k}"])
        expected = [0.0, 0.0, 0] if v == 0 else [float(row[f"x{k}"]), float(row[f"y{k}"]), v]
        assert got[k] == expected


def test_planning_splits_sorted_images_and_counts_records(data):
    root, _ = data
    source = HandKeypointsCsvSource(csv=str(root / "hands.csv"), unit_size=4)
    units = source.units()
    assert [len(u["images"]) for u in units] == [4, 4, 1]
    assert units[0]["bad_lines"] == [13] and all(u["bad_lines"] == [] for u in units[1:])
    assert sum(source.count_records(u) for u in units) == 6 + 3 + 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("image,hand,x0,y0\nimages/a.jpg,right,1,2\n", r"header lacks column\(s\) v0, x1, y1, v1, x2, y2 and 55 more"),
        ("", "empty file"),
        (None, "not UTF-8 text"),
    ],
)
def test_an_unusable_csv_is_refused_at_planning_naming_the_file(tmp_path, text, message):
    path = tmp_path / "hands.csv"
    if text is None:
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(text)
    with pytest.raises(HandCsvError, match=message) as err:
        HandKeypointsCsvSource(csv=str(path)).units()
    assert str(path) in str(err.value)
