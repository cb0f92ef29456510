import numpy as np

from uvd_pipeline.pipeline import UnitBuilder, plan_units
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
