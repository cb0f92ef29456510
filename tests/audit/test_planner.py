"""`uvd plan` predicts what `uvd run` builds, without decoding or tokenizing anything."""

from __future__ import annotations

import io
import tarfile
from collections import Counter

import pytest

from tests.audit.worlds import build_once, install_test_plugins, make_images, make_tar, recipe_dict, source
from uvd_pipeline.audit.planner import gpu_rate, make_plan
from uvd_pipeline.manifests import Dataset
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.sources.webdataset import WebDatasetSource
from uvd_pipeline.types import WorkUnit


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan_world")
    install_test_plugins(root / "plugins")
    make_images(root / "a", 10, seed=3)
    make_images(root / "b", 9, seed=4)
    make_tar(root / "wds" / "00000.tar", 6, seed=5)
    make_tar(root / "wds" / "00001.tar", 5, seed=6)
    return root


def actual(out) -> dict:
    m = Dataset(str(out)).manifest
    got: dict = {}
    for src, n_img, n_tok in zip(m["source"].to_pylist(), m["n_images"].to_pylist(), m["n_tokens"].to_pylist()):
        row = got.setdefault(src, [0, 0, 0])
        row[0] += 1
        row[1] += n_img
        row[2] += n_tok
    return got


def test_plan_predicts_exactly_what_the_run_builds(world, tmp_path_factory):
    """No rejects in this world: sequences, images and tokens match per source, including a
    grouping sequencer (overlapping windows) and a source capped by max_sequences."""
    data = recipe_dict([
        source("singles", world / "a", unit_size=4),
        source("windows", world / "b", sequencer={"plugin": "test_windows", "params": {"size": 4, "stride": 2}},
               unit_size=5, task="frames"),
        source("laion", world / "wds", tar=True, max_sequences=7),
    ])
    plan = make_plan(parse_recipe(data))
    predicted = {r.key: [r.sequences, r.images, r.tokens] for r in plan.rows("source")}
    out = build_once(tmp_path_factory, "plan_exact", data)
    assert predicted == actual(out)
    assert predicted["laion"][0] == 7  # the cap bites (11 samples)
    ledger = Dataset(str(out)).ledger
    assert sum(e["counts"]["records_read"] for e in ledger) == plan.totals.records == 10 + 9 + 11
    reasons = Counter(Dataset(str(out)).rejects()["reason"].to_pylist())
    assert reasons == {"over_quota": 4}  # read, then capped away: accounted for, not lost
    assert {r.key for r in plan.rows("task")} == {"image", "frames"}
    assert plan.gpu_hours == pytest.approx(plan.totals.images / gpu_rate(plan.recipe.tokenizer)[0] / 3600)


def test_webdataset_counts_records_from_headers(tmp_path):
    """Links, unsafe paths and image-less samples are records too (read() rejects them); a corrupt
    image is counted without being decoded."""
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        def add(name, data=b"x"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("a.jpg", b"not really a jpeg")
        add("a.json", b"{}")
        add("b.json", b"{}")
        link = tarfile.TarInfo("c.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.jpg"
        tar.addfile(link)
        add("../evil.jpg")
        add("d/e.png")
    src = WebDatasetSource(path=str(tmp_path))
    payload = src.units()[0]
    records = list(src.read(WorkUnit("u", "s", 0, payload)))
    assert src.count_records(payload) == len(records) == 5
    (tmp_path / "y.tar").write_bytes(path.read_bytes()[:700])  # truncated mid-archive
    truncated = {"root": payload["root"], "tar": "y.tar"}
    assert src.count_records(truncated) == len(list(src.read(WorkUnit("u", "s", 0, truncated))))


def test_plan_shares_against_targets_and_notes(world):
    data = recipe_dict(
        [source("img", world / "a"), source("vid", world / "b", category="unlabelled_videos")],
        targets={"shares": {"unlabelled_images": 0.5, "unlabelled_videos": 0.5}, "enforce": False},
    )
    plan = make_plan(parse_recipe(data), gpu_images_per_s=10)
    cats = {r.key: r for r in plan.rows("category")}
    assert cats["unlabelled_images"].share == pytest.approx(10 / 19)
    assert cats["unlabelled_videos"].deviation == pytest.approx(9 / 19 - 0.5)
    assert plan.gpu_hours == pytest.approx(19 / 10 / 3600)
    d = plan.to_dict()
    assert d["totals"]["sequences"] == 19 and len(d["units"]) == 2 + 2


def test_gpu_hours_follow_the_tokenizer_precision(tmp_path):
    from uvd_pipeline.recipe import TokenizerSpec

    rates = {key: gpu_rate(TokenizerSpec(**spec))[0] for key, spec in {
        "float32": {}, "tf32": {"tf32": True}, "bfloat16": {"dtype": "bfloat16"}, "float16": {"dtype": "float16"},
    }.items()}
    # 216.3 GFLOP/image at 35 % of an H100's dense peak per precision (989 / 494.7 / 66.9 TFLOP/s)
    assert rates == {"float32": 108.0, "tf32": 800.0, "bfloat16": 1600.0, "float16": 1600.0}
    assert "float32" in gpu_rate(TokenizerSpec())[1] and "66.9 TFLOP/s" in gpu_rate(TokenizerSpec())[1]
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    base = {"sources": [{"name": "img", "plugin": "image_folder", "params": {"path": str(tmp_path)},
                         "category": "unlabelled_images"}]}
    plain = make_plan(parse_recipe(base))
    bf16 = make_plan(parse_recipe({**base, "tokenizer": {"dtype": "bfloat16"}}))
    assert (plain.gpu_images_per_s, bf16.gpu_images_per_s) == (108.0, 1600.0)
    assert plain.totals.images == 1 and plain.gpu_hours == pytest.approx(bf16.gpu_hours * 1600 / 108)
    assert make_plan(parse_recipe(base), gpu_images_per_s=50.0).to_dict()["gpu_rate_origin"] == "given"
