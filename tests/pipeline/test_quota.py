"""Composition control: quotas from max_sequences and target shares, spread over units."""

from __future__ import annotations

import pytest

from tests.audit.worlds import install_test_plugins, make_images, recipe_dict, source
from uvd_pipeline.pipeline.quota import QUOTA_KEY, UnitEstimate, allot, source_quotas
from uvd_pipeline.errors import RecipeError
from uvd_pipeline.pipeline.build import UnitBuilder
from uvd_pipeline.pipeline.plan import plan_units
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.types import WorkUnit


def est(spec, index, sequences, images=None, records=None):
    unit = WorkUnit(f"{spec.name}-{index:06d}", spec.name, index, {})
    n = sequences
    return UnitEstimate(unit, spec, records if records is not None else n, n, images if images is not None else n, "sequencer")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("quota_world")
    install_test_plugins(root / "plugins")
    return make_images(root / "a", 12, seed=7), make_images(root / "b", 6, seed=8)


def test_allot_is_proportional_exact_and_ties_go_to_lower_units(folders):
    spec = parse_recipe(recipe_dict([source("s", folders[0])])).sources[0]
    ests = [est(spec, i, n) for i, n in enumerate([10, 10, 10, 1])]
    assert allot(7, ests) == [3, 2, 2, 0]
    assert sum(allot(31, ests)) == 31 and allot(31, ests) == [10, 10, 10, 1]
    assert allot(0, ests) == [0, 0, 0, 0]
    assert allot(100, ests) == [10, 10, 10, 1]  # never more than a unit predicts


def test_target_shares_become_quotas_split_by_weight(folders):
    data = recipe_dict(
        [
            source("img1", folders[0], weight=3),
            source("img2", folders[0], weight=1),
            source("vid", folders[1], category="unlabelled_videos", repeat=2),
        ],
        targets={"shares": {"unlabelled_images": 0.5, "unlabelled_videos": 0.5}},
    )
    r = parse_recipe(data)
    ests = [est(r.sources[0], 0, 12), est(r.sources[1], 0, 12), est(r.sources[2], 0, 6)]
    quotas, notes = source_quotas(r, ests)
    # videos give 6 x 2 (repeat) = 12 sequences' worth: the images' budget is 12, split 3:1
    assert quotas == {"img1": 9, "img2": 3, "vid": 6} and not notes


def test_water_fill_passes_unused_budget_to_the_other_sources(folders):
    data = recipe_dict(
        [source("big", folders[0]), source("small", folders[1]), source("vid", folders[1], category="unlabelled_videos")],
        targets={"shares": {"unlabelled_images": 0.75, "unlabelled_videos": 0.25}},
    )
    r = parse_recipe(data)
    quotas, _ = source_quotas(r, [est(r.sources[0], 0, 12), est(r.sources[1], 0, 2), est(r.sources[2], 0, 6)])
    assert quotas == {"big": 12, "small": 2, "vid": 5}  # 14 images -> videos 14/3 ~ 5


def test_uvdv1_target_set_and_missing_categories_are_noted(folders):
    r = parse_recipe(recipe_dict([source("img", folders[0])], targets="uvdv1"))
    shares = r.targets.resolved()
    assert shares["unlabelled_images"] == pytest.approx(88.5 / 100.01)
    assert sum(shares.values()) == pytest.approx(1.0)
    quotas, notes = source_quotas(r, [est(r.sources[0], 0, 12)])
    assert quotas == {"img": 12}
    assert any("annotated_images" in n for n in notes)


def test_bad_targets_name_the_field(folders):
    with pytest.raises(RecipeError, match=r"targets: preset: unknown target set 'uvdv9'"):
        parse_recipe(recipe_dict([source("img", folders[0])], targets="uvdv9"))
    with pytest.raises(RecipeError, match=r"sources\[0\]\.max_sequences"):
        parse_recipe(recipe_dict([source("img", folders[0], max_sequences=-1)]))


def test_quota_keeps_the_same_sequences_whatever_the_unit_order(folders):
    """The plan writes each unit's quota into its payload; which sequences a unit keeps is chosen
    by hashing their ids, so building units in any order (any engine) keeps the same ones."""
    data = recipe_dict([source("img", folders[0], unit_size=4, max_sequences=5)])
    r = parse_recipe(data)
    units = plan_units(r)
    assert [u.payload[QUOTA_KEY] for u in units] == [2, 2, 1]
    first = {u.id: [s.id for s in UnitBuilder(r).build(u).sequences] for u in units}
    again = {u.id: [s.id for s in UnitBuilder(r).build(u).sequences] for u in reversed(plan_units(r))}
    assert first == again and sum(map(len, first.values())) == 5
    built = UnitBuilder(r).build(units[0])
    assert {x.reason for x in built.rejects} == {"over_quota"} and built.records_read == 4
    assert [s.index for s in built.sequences] == [0, 1]
    unchanged = plan_units(parse_recipe(recipe_dict([source("img", folders[0], unit_size=4)])))
    assert all(QUOTA_KEY not in u.payload for u in unchanged)


@pytest.mark.slow
def test_ray_keeps_the_same_capped_and_held_out_sequences_as_local(folders, tmp_path):
    """Quotas and splits come from the plan and the content: a Ray run with two units in flight
    gives the same dataset (digest) as the local reference."""
    ray = pytest.importorskip("ray")
    from uvd_pipeline.engines import run_recipe
    from uvd_pipeline.manifests import dataset_digest, open_dataset

    data = recipe_dict([source("img", folders[1], unit_size=2, max_sequences=4, test_fraction=0.5)])
    r = parse_recipe(data)
    run_recipe(r, str(tmp_path / "local"), engine="local", quiet=True)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        summary = run_recipe(r, str(tmp_path / "ray"), engine="ray", workers=2, quiet=True)
    finally:
        ray.shutdown()
    assert not summary.failures
    local, distributed = open_dataset(str(tmp_path / "local")), open_dataset(str(tmp_path / "ray"))
    assert local.manifest.num_rows == 4
    assert dataset_digest(local) == dataset_digest(distributed)
    assert sorted(zip(local.manifest["sequence_id"].to_pylist(), local.manifest["split"].to_pylist())) == sorted(
        zip(distributed.manifest["sequence_id"].to_pylist(), distributed.manifest["split"].to_pylist()))
