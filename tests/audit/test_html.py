"""The HTML report is one self-contained page that a browser renders with its plots."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.audit.worlds import small_dataset
from uvd_pipeline.audit.html import render_html, write_html
from uvd_pipeline.audit.report import build_report
from uvd_pipeline.manifests import Dataset
from uvd_pipeline.exports.previews import write_raw_previews

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    write_raw_previews(str(out), per_task=3)
    path = tmp_path_factory.mktemp("html") / "audit.html"
    write_html(build_report(str(out), targets="uvdv1"), str(path))
    return path


def test_page_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # nothing loaded from elsewhere
    plots = re.findall(r'<img alt="[^"]+" class="plot" src="data:image/png;base64,', text)
    assert len(plots) == 3  # shares, tokens by source, lengths (no rejects here)
    assert text.count('src="data:image/jpeg;base64,') == 3  # one raw contact sheet per kept sequence
    for table in ("By category", "By source", "By task", "By split"):
        assert table in text
    assert "OUT" in text and "unlabelled_images" in text


def test_page_without_raw_sample_says_how_to_make_one(tmp_path_factory):
    out = small_dataset(tmp_path_factory)
    ds = Dataset(str(out))
    if ds.store.exists("previews/index.json"):
        ds.store.remove("previews/index.json")
    assert "uvd preview DIR --sample" in render_html(build_report(str(out)), ds)


def _chromium(*args, timeout=90):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *args],
        capture_output=True, text=True, timeout=timeout,
    )


@needs_chromium
def test_chromium_shows_every_plot(page, tmp_path):
    dom = _chromium("--dump-dom", page.as_uri()).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    broken = int(re.search(r'data-images-broken="(\d+)"', body).group(1))
    assert (loaded, broken) == (6, 0)  # 3 plots + 3 contact sheets decoded by the browser
    shot = tmp_path / "shot.png"
    _chromium("--window-size=1200,1600", f"--screenshot={shot}", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    blue = np.all(pixels == (0x1A, 0x73, 0xE8), axis=-1).sum()  # the share bars' colour
    assert blue > 500, "the plots are not visible in the rendered page"
