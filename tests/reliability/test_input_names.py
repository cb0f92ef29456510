"""Record names that are not valid UTF-8 (a file name with a Latin-1 byte, a tar member named so) on
Beam: unit payloads holding such names pass Beam's coders (they need UTF-8), and the dataset
equals the local engine's. The corpus (test_corpus.py) shows the same on local and Ray."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from PIL import Image

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.storage import name_bytes


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("names")
    images = root / "images"
    images.mkdir()
    (images / "ok.png").write_bytes(_png((10, 200, 10)))
    (images / os.fsdecode(b"caf\xe9.png")).write_bytes(_png((200, 10, 10)))
    (root / "wds").mkdir()
    with tarfile.open(root / "wds" / "00000.tar", "w", format=tarfile.GNU_FORMAT) as tar:
        for name, colour in (("k0.png", (1, 2, 3)), ("k\udcff1.png", (3, 2, 1))):
            data = _png(colour)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"name": "names", "tokenizer": {"preset": "tiny"}, "sources": [
        {"name": "images", "plugin": "image_folder", "params": {"path": str(images)}, "category": "unlabelled_images"},
        {"name": "wds", "plugin": "webdataset", "params": {"path": str(root / "wds")}, "category": "unlabelled_images"},
    ]}


def _records(out) -> list[str]:
    return sorted(r for recs in open_dataset(str(out)).manifest["records"].to_pylist() for r in recs)


@pytest.mark.parametrize("engine", ["local", "beam"])
def test_non_utf8_names_are_recorded_escaped(recipe, tmp_path, engine):
    if engine == "beam":
        pytest.importorskip("apache_beam")
    summary = run_recipe(parse_recipe(recipe), str(tmp_path / engine), engine=engine, quiet=True)
    assert summary.failures == [] and summary.committed == summary.planned == 2
    assert _records(tmp_path / engine) == ["00000.tar/k0", "00000.tar/k\\udcff1", "caf\\udce9.png", "ok.png"]
    assert open_dataset(str(tmp_path / engine)).rejects().num_rows == 0
    assert verify_dataset(str(tmp_path / engine)) == []
    assert name_bytes("caf\\udce9.png") == b"caf\xe9.png"
    if engine == "beam":
        local = tmp_path / "local_ref"
        run_recipe(parse_recipe(recipe), str(local), engine="local", quiet=True)
        assert dataset_digest(open_dataset(str(tmp_path / engine))) == dataset_digest(open_dataset(str(local)))
