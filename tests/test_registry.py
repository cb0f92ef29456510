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
