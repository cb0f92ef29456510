"""Test helpers for plugin authors: the conformance suite and sample inputs.

A plugin's own tests reuse the suite that `uvd plugins check` runs::

    from uvd_pipeline.testing import check_renderer

    def test_conformance(tmp_path):
        check_renderer(MyRenderer, tmp_dir=tmp_path)   # raises AssertionError listing failures

See PLUGINS.md for the contract these checks enforce.
"""

from .checks import (
    check_filter,
    check_plugin,
    check_renderer,
    check_sequencer,
    check_source,
    check_transform,
    conformance,
    find_plugin,
)
from .report import CheckResult, ConformanceReport, Skip
from .samples import (
    corrupt_files,
    sample_image,
    sample_item,
    sample_items,
    sample_pixels,
    sample_signature_image,
    sample_units,
    write_sample_images,
)
from .shipping import fingerprint, run_in_fresh_process

__all__ = [
    "check_filter",
    "check_plugin",
    "check_renderer",
    "check_sequencer",
    "check_source",
    "check_transform",
    "conformance",
    "find_plugin",
    "CheckResult",
    "ConformanceReport",
    "Skip",
    "corrupt_files",
    "sample_image",
    "sample_item",
    "sample_items",
    "sample_pixels",
    "sample_signature_image",
    "sample_units",
    "write_sample_images",
    "fingerprint",
    "run_in_fresh_process",
]
