import pytest

from uvd_pipeline import registry
from uvd_pipeline.errors import UnknownPluginError
from uvd_pipeline.sources.image_folder import ImageFolderSource
from uvd_pipeline.stages import Source


def test_builtins_come_from_entry_points():
    assert {"image_folder", "webdataset"} <= set(registry.names("source"))
    assert "single" in registry.names("sequencer")
    cls = registry.load("source", "image_folder")
    assert cls is ImageFolderSource and issubclass(cls, Source) and cls.name == "image_folder"


def test_unknown_name_lists_known():
    with pytest.raises(UnknownPluginError) as err:
        registry.load("source", "nope")
    assert "image_folder" in str(err.value) and "webdataset" in str(err.value)


def test_unknown_kind():
    with pytest.raises(ValueError, match="kinds"):
        registry.names("widget")


def test_describe_lists_distribution():
    rows = {(p.kind, p.name): p for p in registry.describe()}
    p = rows[("source", "webdataset")]
    assert p.distribution == "uvd-pipeline" and not p.error


def test_a_source_with_a_seed_param_takes_the_recipe_seed_unless_its_entry_sets_one():
    assert registry.create_source("frame_folder", {"path": "v"}, 7).params.seed == 7
    assert registry.create_source("frame_folder", {"path": "v", "seed": 3}, 7).params.seed == 3
    assert registry.create_source("image_folder", {"path": "v"}, 7).params_dict == {
        **registry.create("source", "image_folder", {"path": "v"}).params_dict
    }  # no seed param: nothing added


def test_the_recipe_seed_reaches_a_sampling_source_end_to_end(tmp_path):
    """Clip starts/strides drawn by a frame-folder source follow the recipe's top-level seed."""
    from tests.sources.test_frame_folder import write_frames
    from uvd_pipeline.pipeline.build import UnitBuilder
    from uvd_pipeline.pipeline.plan import plan_units
    from uvd_pipeline.recipe import parse_recipe

    for v in range(6):
        write_frames(tmp_path / f"v{v}", 400)

    def clips(seed: int) -> list[tuple[int, int]]:
        recipe = parse_recipe({
            "seed": seed,
            "sources": [{"name": "frames", "plugin": "frame_folder", "category": "unlabelled_videos",
                         "params": {"path": str(tmp_path)}, "sequencer": {"plugin": "video_clip"}}],
        })
        builder = UnitBuilder(recipe)
        out = []
        for unit in plan_units(recipe):
            for seq in builder.build(unit).sequences:
                out.append((seq.provenance["start"], seq.provenance["stride"]))
        return sorted(out)

    assert clips(0) == clips(0)
    assert clips(0) != clips(11)
