"""Every built-in plugin passes the conformance suite (`uvd plugins check`) on inputs that exercise it.

The built-ins are read from the uvd-pipeline distribution's entry points, so a new built-in
fails here until it has an example in uvd_pipeline/testing/examples/: the generic fallback (default params, sample
items without annotations) cannot construct a source and leaves renderers and most sequencers with
nothing to do. Only the plugins in GENERIC_INPUTS_SUFFICE may rely on it.
"""

from importlib.metadata import distribution

import pytest

from uvd_pipeline.estimators.mmpose import MMPOSE_MISSING, mmpose_available
from uvd_pipeline.estimators.onnx_map import ONNX_MISSING, onnxruntime_available
from uvd_pipeline.filters.nsfw import NSFW_MISSING, nudenet_available
from uvd_pipeline.filters.onnx_score import ONNX_SCORE_MISSING
from uvd_pipeline.testing import conformance, find_plugin
from uvd_pipeline.testing.report import PASS, SKIP

#: Transforms take any 256x256 picture, and the suite's generic inputs are such pictures.
GENERIC_INPUTS_SUFFICE = {("transform", name) for name in ("colorization", "inpainting", "denoise", "low_light")}
#: Built-ins whose extra may be missing: (is it installed, the skip reason their example gives).
OPTIONAL = {
    "mmpose_pose": (mmpose_available, MMPOSE_MISSING),
    "onnx_map": (onnxruntime_available, ONNX_MISSING),
    "onnx_score": (onnxruntime_available, ONNX_SCORE_MISSING),
    "nsfw": (nudenet_available, NSFW_MISSING),
}
#: Checks that do not apply to a kind, and say so by skipping.
NOT_APPLICABLE = {("source", "inputs kept")}


def builtin_plugins() -> list[tuple[str, str]]:
    """(kind, name) of every entry point the uvd-pipeline distribution registers."""
    eps = distribution("uvd-pipeline").entry_points
    groups = [(ep.group.split(".", 1)[1], ep.name) for ep in eps if ep.group.startswith("uvd_pipeline.")]
    return sorted((group.removesuffix("s"), name) for group, name in groups)


BUILTINS = builtin_plugins()


def test_the_builtins_come_from_every_group():
    kinds = {kind for kind, _ in BUILTINS}
    assert kinds == {"source", "renderer", "transform", "sequencer", "filter"}
    assert ("source", "coco_panoptic") in BUILTINS and ("renderer", "coco_panoptic") in BUILTINS


@pytest.mark.parametrize(("kind", "name"), BUILTINS, ids=[f"{k}-{n}" for k, n in BUILTINS])
def test_a_builtin_passes_every_check_on_its_own_example(kind, name, tmp_path):
    if name in OPTIONAL and not OPTIONAL[name][0]():
        pytest.skip(OPTIONAL[name][1])
    found_kind, cls = find_plugin(name, kind)
    report = conformance(found_kind, cls, tmp_dir=tmp_path, fresh_process=False)
    assert report.passed, report.format()
    results = {r.name: r for r in report.results}
    if (kind, name) not in GENERIC_INPUTS_SUFFICE:
        assert results["example"].message.startswith("conformance_example gave"), (
            f"{kind} {name!r} has no conformance example: add one to uvd_pipeline/testing/examples/ that gives "
            "inputs it can use, or list it in GENERIC_INPUTS_SUFFICE with the reason"
        )
    not_run = [f"{r.name}: {r.message}" for r in report.results
               if r.status != PASS and (kind, r.name) not in NOT_APPLICABLE]
    assert not not_run, f"{kind} {name!r}: checks that did not run:\n" + "\n".join(not_run)
    assert set(results) >= {"outputs", "determinism", "bad input", "pickling"}


@pytest.mark.skipif(mmpose_available(), reason="mmpose is installed: its example runs in the test above")
def test_without_mmpose_its_example_is_skipped_with_the_install_hint(tmp_path):
    kind, cls = find_plugin("mmpose_pose", "renderer")
    example = conformance(kind, cls, tmp_dir=tmp_path, fresh_process=False).results[0]
    assert (example.name, example.status) == ("example", SKIP)
    assert example.message == MMPOSE_MISSING


@pytest.mark.skipif(nudenet_available(), reason="nudenet is installed: its example runs in the test above")
def test_without_nudenet_the_nsfw_example_is_skipped_with_the_install_hint(tmp_path):
    kind, cls = find_plugin("nsfw", "filter")
    example = conformance(kind, cls, tmp_dir=tmp_path, fresh_process=False).results[0]
    assert (example.name, example.status) == ("example", SKIP)
    assert example.message == NSFW_MISSING
