import numpy as np

from uvd_pipeline.pipeline import UnitBuilder, plan_units
from uvd_pipeline.pipeline.quota import QUOTA_KEY
from uvd_pipeline.recipe import parse_recipe

from ..conftest import single_image_recipe


def test_plan_is_deterministic_and_covers_sources(recipe):
    a, b = plan_units(recipe), plan_units(recipe)
    assert [u.to_row() for u in a] == [u.to_row() for u in b]
    assert [u.id for u in a][:2] == ["web_images-000000", "web_images-000001"]
    assert sum(u.source == "laion" for u in a) == 2


def test_build_accounts_for_every_record(recipe):
    builder = UnitBuilder(recipe)
    total_read = total_used = total_rejected = 0
    for unit in plan_units(recipe):
        built = builder.build(unit)
        used = {r for s in built.sequences for r in s.records}
        rejected = {r.record for r in built.rejects}
        assert built.records_read == len(used | rejected)
        assert not used & rejected
        for s in built.sequences:
            assert s.id and s.index >= 0 and s.task == "image" and s.split == "train"
            assert all(im.pixels.shape == (256, 256, 3) for im in s.images)
        total_read += built.records_read
        total_used += len(used)
        total_rejected += len(rejected)
    assert (total_read, total_used, total_rejected) == (98, 96, 2)


def test_build_is_deterministic_across_builders(recipe):
    unit = plan_units(recipe)[0]
    a, b = UnitBuilder(recipe).build(unit), UnitBuilder(recipe).build(unit)
    assert [s.id for s in a.sequences] == [s.id for s in b.sequences]
    assert all(np.array_equal(x.pixels(), y.pixels()) for x, y in zip(a.sequences, b.sequences))


def test_test_fraction_splits_by_hash(samples):
    data = single_image_recipe(samples)
    data["sources"][0]["test_fraction"] = 0.5
    r = parse_recipe(data)
    builder = UnitBuilder(r)
    splits = [s.split for u in plan_units(r) if u.source == "web_images" for s in builder.build(u).sequences]
    assert 0 < splits.count("test") < len(splits)


def _epochs_recipe(folder, pairs: int, epochs: int, test_fraction: float) -> dict:
    return {
        "name": "epochs", "seed": 0, "tokenizer": {"preset": "tiny"},
        "sources": [{
            "name": "colour", "plugin": "image_folder", "params": {"path": str(folder), "unit_size": 64},
            "category": "annotated_images", "task": "colorization", "test_fraction": test_fraction,
            "transforms": [{"plugin": "colorization"}],
            "sequencer": {"plugin": "pairs", "params": {"view": "colorization", "pairs": pairs, "epochs": epochs}},
        }],
    }


def _png_folder(folder, n: int):
    from PIL import Image as PILImage

    folder.mkdir()
    rng = np.random.default_rng(4)
    for i in range(n):
        PILImage.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"p{i:02d}.png")
    return folder


def test_epochs_give_distinct_ids_to_recurring_groups_and_keep_a_records_sequences_in_one_split(tmp_path):
    folder = _png_folder(tmp_path / "imgs", 12)
    # one pair a sequence: every pass makes the same 12 sequences, so each recurs 3 times
    r = parse_recipe(_epochs_recipe(folder, pairs=1, epochs=3, test_fraction=0.5))
    (unit,) = plan_units(r)
    built = UnitBuilder(r).build(unit)
    assert len(built.sequences) == 36 and not built.rejects and built.records_used == 12
    assert len({s.id for s in built.sequences}) == 36  # content-addressed, yet distinct
    by_members: dict[tuple, list] = {}
    for s in built.sequences:
        by_members.setdefault(tuple(s.image_ids), []).append(s)
    assert len(by_members) == 12 and {len(v) for v in by_members.values()} == {3}
    for same in by_members.values():
        assert len({s.split for s in same}) == 1  # one record, one split
    assert {s.split for s in built.sequences} == {"train", "test"}  # 12 records decided one by one
    again = UnitBuilder(r).build(unit)
    assert [s.id for s in again.sequences] == [s.id for s in built.sequences]
    # groups of 3 pairs over 3 passes link every record to others: all of them share one split
    r = parse_recipe(_epochs_recipe(folder, pairs=3, epochs=3, test_fraction=0.5))
    built = UnitBuilder(r).build(plan_units(r)[0])
    assert len(built.sequences) == 12 and len({s.id for s in built.sequences}) == 12
    splits: dict[str, set[str]] = {}
    for s in built.sequences:
        for rec in s.records:
            splits.setdefault(rec, set()).add(s.split)
    assert all(len(v) == 1 for v in splits.values()) and len(splits) == 12


def test_a_quota_over_epochs_keeps_its_count_and_loses_no_record(tmp_path):
    folder = _png_folder(tmp_path / "imgs", 12)
    data = _epochs_recipe(folder, pairs=2, epochs=5, test_fraction=0.0)
    data["sources"][0]["max_sequences"] = 20  # of the 6 x 5 = 30 the plan predicts
    r = parse_recipe(data)
    (unit,) = plan_units(r)
    assert unit.payload[QUOTA_KEY] == 20
    built = UnitBuilder(r).build(unit)
    assert len(built.sequences) == 20 and [s.index for s in built.sequences] == list(range(20))
    used = {rec for s in built.sequences for rec in s.records}
    rejected = {x.record for x in built.rejects}
    assert len(used | rejected) == built.records_read == 12 and not used & rejected
    assert {x.reason for x in built.rejects} <= {"over_quota"}


def test_single_images_are_resized_without_a_full_resolution_array(recipe, monkeypatch):
    """The build path of image_folder and webdataset records decodes, then resizes the decoded
    PIL image: no stage asks for the full-resolution array, so it is never made (types.Image)."""
    from uvd_pipeline.types import Image

    made = []
    original = Image.pixels.fget

    def watched(self):
        if self._pixels is None:
            made.append(self.id)
        return original(self)

    monkeypatch.setattr(Image, "pixels", property(watched))
    builder = UnitBuilder(recipe)
    built = [builder.build(unit) for unit in plan_units(recipe)]
    assert sum(len(b.sequences) for b in built) == 96 and {b.unit.source for b in built} == {"web_images", "laion"}
    assert made == []


def test_one_full_resolution_image_at_a_time(recipe, monkeypatch):
    """A decoded image is released before the next record is decoded (the next decode then reuses
    memory that is still in cache): when a source yields record k + 1, nothing holds record k's."""
    import gc
    import weakref

    from uvd_pipeline.registry import load

    alive_at_next = []
    cls = load("source", "image_folder")
    original = cls.read

    def watched(self, unit):
        previous, records = None, original(self, unit)
        while (item := next(records, None)) is not None:  # this frame keeps no reference across a decode
            gc.collect()
            if previous is not None:
                alive_at_next.append(previous() is not None)
            decoded = getattr(getattr(item, "image", None), "decoded", None)
            previous = weakref.ref(decoded) if decoded is not None else None
            del decoded
            yield item
            del item

    monkeypatch.setattr(cls, "read", watched)
    builder = UnitBuilder(recipe)
    for unit in plan_units(recipe):
        builder.build(unit)
    assert alive_at_next and not any(alive_at_next), f"{sum(alive_at_next)} of {len(alive_at_next)} still held"
