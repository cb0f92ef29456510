"""The HTML report's curation section: the cluster-size histogram and contact sheets of dropped
images beside their kept twins or evaluation matches, read back through the source plugins."""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.audit.curated import curated_output
from uvd_pipeline.audit.curation_html import choose_examples
from uvd_pipeline.audit.html import render_html
from uvd_pipeline.audit.page import TILE
from uvd_pipeline.audit.report import build_report
from uvd_pipeline.manifests import Dataset

pytest.importorskip("skimage")
FOLDER = {"web": "web", "more": "more", "val": "eval"}  # source or evaluation set -> its folder


def sheets(page: str) -> dict[str, np.ndarray]:
    found = re.findall(r'alt="curation [a-z_]+ ([^"]+)" src="data:image/jpeg;base64,([^"]+)"', page)
    return {rec: np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB"), np.int16) for rec, b in found}


def tile(sheet: np.ndarray, k: int) -> np.ndarray:
    return sheet[:TILE, k * (TILE + 2): k * (TILE + 2) + TILE]


def file_tile(root, source: str, record: str) -> np.ndarray:
    img = Image.open(root / FOLDER[source] / record).convert("RGB").resize((192, 192), Image.BILINEAR)
    return np.asarray(img.resize((TILE, TILE), Image.BILINEAR), np.int16)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root, out = curated_output(tmp_path_factory)
    report = build_report(str(out))
    return root, out, render_html(report, Dataset(str(out))), report


def test_every_dropped_example_sits_beside_its_twin(page):
    root, _, text, report = page
    assert "<h2>Curation</h2>" in text and 'alt="cluster sizes" class="plot"' in text
    examples = report.curation.examples
    assert {e["reason"] for e in examples} == {"duplicate", "near_duplicate", "eval_contamination", "filtered"}
    got = sheets(text)
    assert set(got) == {e["record"] for e in examples}
    for e in examples:
        sheet = got[e["record"]]
        n = 2 if e["twin_unit"] else 1
        assert e["shown"] == n and sheet.shape[1] == n * TILE + (n - 1) * 2, e["record"]
        mine = file_tile(root, e["source"], e["record"])
        assert np.abs(tile(sheet, 0) - mine).mean() < 12, e["record"]  # the dropped image itself
        if n == 2:
            twin = file_tile(root, e["twin_source"], e["twin_record"])
            assert np.abs(tile(sheet, 1) - twin).mean() < 12, e["twin_record"]  # its kept twin / eval match
            others = [file_tile(root, "web", f"p{i}.jpg") for i in (0, 5)]  # unrelated photos differ far more
            assert all(np.abs(tile(sheet, 1) - o).mean() > 20 for o in others if e["twin_record"] not in ("p0.jpg", "p5.jpg"))
    assert "dropped web/<code>p4.jpg</code> · kept val/<code>val_0001.jpg</code>" in text


def test_the_choice_is_bounded_and_deterministic(page):
    _, out, _, _ = page
    ds = Dataset(str(out))
    three = choose_examples(ds)
    assert choose_examples(Dataset(str(out))) == three
    one = choose_examples(ds, per_reason=1)
    assert len(one) == 4 and all(e in three for e in one)  # one per reason, from the same order
    assert len(three) == 5  # every drop of this world (at most 3 per reason)


def test_moved_data_leaves_a_note_not_a_failure(page, tmp_path):
    root, out, _, _ = page
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    text = (copy / "recipe.resolved.yaml").read_text().replace(str(root / "more"), str(tmp_path / "gone"))
    (copy / "recipe.resolved.yaml").write_text(text)
    page_text = render_html(build_report(str(copy)), Dataset(str(copy)))
    assert "cannot plan the units holding the examples again" in page_text
    assert "<h2>Curation</h2>" in page_text
