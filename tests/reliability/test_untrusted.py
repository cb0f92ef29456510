"""Untrusted input: nothing a recipe, checkpoint, archive, annotation file or image holds can run
code, reach outside its folder, or exhaust memory unchecked.

Checkpoints: tests/tokenizer/test_checkpoint.py has the loader-level tests
(test_pickle_with_arbitrary_objects_is_refused: torch.load(weights_only=True) refuses a pickle
that would run code; test_non_tensor_entries_refused; safetensors preferred when present). Here:
a poisoned checkpoint named by a recipe stops `uvd run` before any unit, and a source audit finds
no unsafe loader anywhere in the package.
"""

from __future__ import annotations

import ast
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image as PILImage

import uvd_pipeline
from uvd_pipeline import registry
from uvd_pipeline.engines import run_recipe
from uvd_pipeline.errors import RecipeError, UnknownPluginError
from uvd_pipeline.pipeline.build import UnitBuilder
from uvd_pipeline.recipe import load_recipe, parse_recipe
from uvd_pipeline.types import Reject, WorkUnit

PACKAGE = Path(uvd_pipeline.__file__).parent


# -- no unsafe loader in the package ---------------------------------------------------------------


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            name = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")
            yield owner, name, {k.arg: k.value for k in node.keywords}, node


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_no_unsafe_loader_in_the_package():
    """torch.load only with weights_only=True; YAML only through safe_load/safe_dump; no pickle,
    marshal, eval or exec; numpy never with allow_pickle=True; archives never extracted to disk."""
    found, safe_torch_loads = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        for owner, name, kw, node in _calls(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if owner == "torch" and name == "load":
                safe_torch_loads += _is_true(kw.get("weights_only"))
                if not _is_true(kw.get("weights_only")):
                    found.append(f"{where}: torch.load without weights_only=True")
            if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load", "dump"):
                found.append(f"{where}: yaml.{name}")
            if owner in ("pickle", "cPickle", "marshal", "dill", "cloudpickle") and name.startswith("load"):
                found.append(f"{where}: {owner}.{name}")
            if owner == "" and name in ("eval", "exec"):
                found.append(f"{where}: {name}()")
            if name == "load" and _is_true(kw.get("allow_pickle")):
                found.append(f"{where}: np.load(allow_pickle=True)")
            if name in ("extractall", "extract", "unpack_archive"):
                found.append(f"{where}: {name}() writes archive members to disk")
    assert found == []
    assert safe_torch_loads >= 1  # the audit does see the checkpoint loader


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_poisoned_checkpoint_stops_the_run_before_any_unit(tmp_path):
    from uvd_pipeline.tokenizer import VQGAN

    folder = tmp_path / "ckpt"
    VQGAN.random("tiny").save_pretrained(folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    marker = tmp_path / "pwned"
    state["evil"] = _Payload(str(marker))
    torch.save(state, folder / "pytorch_model.bin")
    images = tmp_path / "images"
    images.mkdir()
    PILImage.new("RGB", (32, 32), (200, 10, 10)).save(images / "a.png")
    recipe = parse_recipe({"tokenizer": {"checkpoint": str(folder)}, "sources": [
        {"name": "img", "plugin": "image_folder", "params": {"path": str(images)}, "category": "unlabelled_images"}]})
    with pytest.raises(Exception, match="pytorch_model.bin"):
        run_recipe(recipe, str(tmp_path / "out"), engine="local", quiet=True)
    assert not marker.exists()
    assert not list((tmp_path / "out" / "ledger").glob("*.json"))


# -- YAML ------------------------------------------------------------------------------------------


def test_a_recipe_with_python_tags_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\nsources: []\n')
    with pytest.raises(RecipeError, match="evil.yaml: not valid YAML"):
        load_recipe(path)
    assert not marker.exists()


# -- archives and paths: nothing read or written outside its folder --------------------------------


def _tar(path: Path, members: list[tuple[str, bytes, bytes, str]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data, kind, link in members:
            info = tarfile.TarInfo(name)
            info.size, info.type, info.linkname = len(data), kind, link
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _png(colour=(10, 200, 10), size=(24, 16)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_tar_members_outside_the_archive_are_neither_read_nor_written(tmp_path):
    from uvd_pipeline.sources.webdataset import WebDatasetSource

    shards = tmp_path / "deep" / "shards"
    shards.mkdir(parents=True)
    outside = tmp_path / "deep" / "planted.png"
    _tar(shards / "00000.tar", [
        ("../planted.png", _png(), tarfile.REGTYPE, ""),
        ("/abs/planted.png", _png(), tarfile.REGTYPE, ""),
        ("a/../../planted.png", _png(), tarfile.REGTYPE, ""),
        ("link.png", b"", tarfile.SYMTYPE, str(outside)),
        ("hard.png", b"", tarfile.LNKTYPE, "../planted.png"),
        ("ok.png", _png(), tarfile.REGTYPE, ""),
    ])
    source = WebDatasetSource(path=str(shards))
    got = list(source.read(WorkUnit("w-0", "w", 0, source.units()[0])))
    reasons = {g.record.split("/", 1)[1]: g.reason for g in got if isinstance(g, Reject)}
    assert reasons == {"../planted.png": "unsafe_member_path", "/abs/planted.png": "unsafe_member_path",
                       "a/../../planted.png": "unsafe_member_path", "link.png": "link_member", "hard.png": "link_member"}
    assert [g.record for g in got if not isinstance(g, Reject)] == ["00000.tar/ok"]
    assert not outside.exists() and not Path("/abs/planted.png").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["00000.tar", "deep", "shards"]  # nothing extracted


def test_annotation_file_names_outside_the_images_folder_are_refused(tmp_path):
    from uvd_pipeline.sources.coco import CocoSource

    (tmp_path / "images").mkdir()
    (tmp_path / "secret.png").write_bytes(_png(size=(40, 30)))
    entries = [{"id": i, "file_name": name, "width": 40, "height": 30}
               for i, name in enumerate(["../secret.png", str(tmp_path / "secret.png"), "sub/../../secret.png"], start=1)]
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 5, 5]} for i in (1, 2, 3)]
    (tmp_path / "a.json").write_text(json.dumps({"images": entries, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}))
    source = CocoSource(images=str(tmp_path / "images"), annotations=[str(tmp_path / "a.json")])
    got = list(source.read(WorkUnit("c-0", "c", 0, source.units()[0])))
    images = [(g.record, g.reason) for g in got if not g.record.startswith("annotation/")]
    assert images == [(e["file_name"], "unsafe_path") for e in entries]
    # each refused image's annotation is accounted for too (issue 14, item 9)
    assert sorted((g.record, g.reason) for g in got if g.record.startswith("annotation/")) == [
        (f"annotation/{i}", "image_rejected") for i in (1, 2, 3)]


def test_an_objaverse_index_pointing_outside_the_cache_is_refused(tmp_path):
    import gzip

    import trimesh

    from uvd_pipeline.sources.objaverse import ObjaverseSource

    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "elsewhere.glb").write_bytes(trimesh.creation.box().export(file_type="glb"))
    (cache / "object-paths.json.gz").write_bytes(gzip.compress(json.dumps({"u1": "../elsewhere.glb"}).encode()))
    source = ObjaverseSource(cache_dir=str(cache), size=32, sequence_length=2)
    got = list(source.read(WorkUnit("o-0", "o", 0, source.units()[0])))
    assert [(g.record, g.reason) for g in got] == [("u1", "unsafe_path")]


# -- resource limits ---------------------------------------------------------------------------------


@pytest.fixture
def pil_limit():
    saved = PILImage.MAX_IMAGE_PIXELS
    yield
    PILImage.MAX_IMAGE_PIXELS = saved


def _image_recipe(folder: Path, **preprocess) -> dict:
    return {"preprocess": preprocess, "sources": [
        {"name": "img", "plugin": "image_folder", "params": {"path": str(folder)}, "category": "unlabelled_images"}]}


def test_decompression_bomb_limit_is_kept_and_configurable(tmp_path, pil_limit):
    from uvd_pipeline.pipeline.plan import plan_units

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "big.png").write_bytes(_png(size=(300, 200)))  # 60,000 pixels
    (folder / "mid.png").write_bytes(_png(size=(120, 100)))  # 12,000: over 10,000, under twice that
    (folder / "small.png").write_bytes(_png(size=(50, 50)))

    def outcome(**preprocess):
        recipe = parse_recipe(_image_recipe(folder, **preprocess))
        built = UnitBuilder(recipe).build(plan_units(recipe)[0])
        return {r.record: r.reason for r in built.rejects}, sorted(r for s in built.sequences for r in s.records)

    assert outcome() == ({}, ["big.png", "mid.png", "small.png"])
    assert PILImage.MAX_IMAGE_PIXELS == 89_478_485  # PIL's own default, kept
    assert outcome(max_image_pixels=10_000) == (
        {"big.png": "decompression_bomb", "mid.png": "decompression_bomb"}, ["small.png"])
    assert PILImage.MAX_IMAGE_PIXELS == 10_000
    assert outcome(max_image_pixels=None)[0] == {}  # lifted on purpose (not advised)
    with pytest.raises(RecipeError, match="preprocess.max_image_pixels"):
        parse_recipe(_image_recipe(folder, max_image_pixels="lots"))


def test_mesh_vertex_face_and_file_size_limits(tmp_path):
    import trimesh

    from uvd_pipeline.sources.meshes import MeshFolderSource

    (tmp_path / "sphere.glb").write_bytes(trimesh.creation.icosphere(3).export(file_type="glb"))  # 642 v, 1280 f

    def reasons(**limits):
        source = MeshFolderSource(path=str(tmp_path), size=32, sequence_length=2, **limits)
        try:
            return [(g.reason, g.detail) for g in source.read(WorkUnit("m-0", "m", 0, source.units()[0]))
                    if isinstance(g, Reject)]
        finally:
            source.teardown()

    (reason, detail), = reasons(max_vertices=600)
    assert reason == "mesh_too_large" and "642 vertices" in detail and "max_vertices" in detail
    (reason, detail), = reasons(max_faces=1000)
    assert reason == "mesh_too_large" and "1280 faces" in detail
    (reason, detail), = reasons(max_file_bytes=1000)
    assert reason == "file_too_large" and "max_file_bytes=1000" in detail


def test_video_frame_size_limit(tmp_path):
    from uvd_pipeline.samples.videos import Scene, write_video
    from uvd_pipeline.sources.video import VideoSource

    write_video(tmp_path / "v.avi", "MJPG", (f for f, _, _ in Scene(np.random.default_rng(0), 64, 48).frames(8)))
    source = VideoSource(path=str(tmp_path), frames=2, strides=[1], max_frame_pixels=64 * 48 - 1)
    got = list(source.read(WorkUnit("v-0", "v", 0, source.units()[0])))
    assert [(g.record, g.reason) for g in got] == [("v.avi", "frame_too_large")]


# -- plugins: only installed entry points --------------------------------------------------------


@pytest.mark.parametrize("where", ["plugin", "sequencer", "renderers", "transforms"])
def test_a_dotted_import_path_is_refused_and_never_imported(tmp_path, monkeypatch, where):
    marker = tmp_path / "imported"
    (tmp_path / "uvd_probe_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Evil: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    src = {"name": "img", "plugin": "image_folder", "params": {"path": str(tmp_path)}, "category": "unlabelled_images"}
    for name in ("uvd_probe_module:Evil", "uvd_probe_module.Evil"):
        ref = {"plugin": name}
        spec = {**src, "plugin": name} if where == "plugin" else {**src, where: ref if where == "sequencer" else [ref]}
        with pytest.raises(RecipeError, match=r"sources\[0\]\." + where + r"(\[0\])?\.?plugin|sources\[0\]\.plugin"):
            parse_recipe({"sources": [spec]})
    for kind in registry.KINDS:
        with pytest.raises(UnknownPluginError):
            registry.load(kind, "uvd_probe_module:Evil")
    assert not marker.exists() and "uvd_probe_module" not in sys.modules


def test_the_registry_reads_entry_points_only():
    """Every plugin the registry can load is an installed entry point of its group."""
    from importlib.metadata import entry_points

    for kind, (group, _) in registry.KINDS.items():
        assert registry.names(kind) == sorted({ep.name for ep in entry_points(group=group)})


def test_recipe_loading_is_yaml_safe_load_only(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "a", "plugin": "image_folder", "params": {"path": "x"},
                                                 "category": "unlabelled_images"}]}) + "extra: !!binary aGVsbG8=\n")
    with pytest.raises(RecipeError, match="extra"):  # a safe tag loads, then fails validation: nothing runs
        load_recipe(path)
