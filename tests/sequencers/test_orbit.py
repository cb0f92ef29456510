"""orbit: one sequence of consecutive views per object, camera in provenance, split by object."""

from __future__ import annotations

import numpy as np

from uvd_pipeline.sequencers.orbit import OrbitSequencer
from uvd_pipeline.testing.examples.inputs import example_views as views  # orbit views as a mesh source tags them
from uvd_pipeline.types import Image, Item, Reject, VisualSequence


def build(items):
    return list(OrbitSequencer().build(items, np.random.default_rng(0)))


def test_one_sequence_per_object_wrapping_past_360_degrees():
    out = build(views("chair", 20) + views("lamp", 0))
    assert all(isinstance(s, VisualSequence) for s in out)
    chair, lamp = out
    assert chair.provenance["views"] == [20, 21, 22, 23] + list(range(12))
    assert chair.provenance["azimuths_deg"] == [15.0 * v for v in chair.provenance["views"]]
    assert chair.provenance["radius"] == 1.9 and chair.provenance["elevation_deg"] == 12.5
    assert chair.split_key == "chair" and chair.records == ["chair.glb"] and len(chair.images) == 16
    assert lamp.provenance["start_view"] == 0


def test_missing_or_out_of_order_views_reject_the_object():
    missing = views("a", 3)[:15]
    moved = views("b", 0)
    moved[4].meta["view"] = 9
    other_orbit = views("c", 0)
    other_orbit[7].meta["radius"] = 2.1
    out = build(missing + moved + other_orbit)
    assert [(o.record, o.reason) for o in out] == [
        ("a.glb", "broken_orbit"),
        ("b.glb", "broken_orbit"),
        ("c.glb", "broken_orbit"),
    ]
    assert "15 views where the source made 16" in out[0].detail
    assert "expected view 4" in out[1].detail and "another camera orbit" in out[2].detail


def test_items_without_orbit_meta_are_rejected():
    (out,) = build([Item("x", Image("x", np.zeros((256, 256, 3), np.uint8)), {"object": "x"})])
    assert isinstance(out, Reject) and out.reason == "not_an_orbit_view"


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_sequencer

    check_sequencer(OrbitSequencer, tmp_dir=tmp_path, fresh_process=False)
