"""`uvd plugins list | new | check` as a user runs them, with a deliberately broken plugin
distribution registered through real entry points (a .dist-info folder on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN_MODULE = '''
import numpy as np

from uvd_pipeline.stages import Renderer, Transform


class SloppyRenderer(Renderer):
    """Draws float noise from the global RNG and trusts its annotation blindly."""

    def render(self, item):
        x0, y0, x1, y1 = item.meta["box"]
        return np.random.rand(*item.image.pixels.shape)

    @classmethod
    def conformance_example(cls, tmp_dir):
        from uvd_pipeline.testing import sample_item

        return {"items": [sample_item(0, meta={"box": [1, 2, 30, 40]})]}


class InvertTransform(Transform):
    def apply(self, pixels, rng):
        return 255 - pixels
'''

ENTRY_POINTS = """
[uvd_pipeline.renderers]
probe_sloppy = uvd_probe_broken:SloppyRenderer

[uvd_pipeline.transforms]
probe_invert = uvd_probe_broken:InvertTransform
probe_needs_lib = uvd_probe_needs_lib:Anything
"""


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    """A distribution 'uvd-probe-broken' 0.3.0 with a broken renderer, a good transform and a
    transform whose module raises ImportError."""
    site = tmp_path_factory.mktemp("site")
    info = site / "uvd_probe_broken-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: uvd-probe-broken\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "uvd_probe_broken.py").write_text(BROKEN_MODULE)
    (site / "uvd_probe_needs_lib.py").write_text('raise ImportError("uvd_probe_needs_lib needs libfoo, which is not installed")\n')
    return site


def uvd(*args: str, site: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")  # rich wraps at the terminal width
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_list_shows_distribution_and_version_and_survives_a_plugin_that_fails_to_import(broken_site):
    res = uvd("plugins", "list", site=broken_site)
    assert res.returncode == 0, res.stderr
    assert "image_folder" in res.stdout and "uvd-pipeline" in res.stdout  # the rest still listed
    assert "probe_invert" in res.stdout and "uvd-probe-broken" in res.stdout and "0.3.0" in res.stdout
    assert (
        "transform 'probe_needs_lib' from uvd-probe-broken 0.3.0 (uvd_probe_needs_lib:Anything) does not load: "
        "ImportError: uvd_probe_needs_lib needs libfoo, which is not installed"
    ) in res.stderr


def test_check_fails_on_a_broken_plugin_with_a_clear_message(broken_site):
    res = uvd("plugins", "check", "probe_sloppy", "--no-fresh-process", site=broken_site)
    assert res.returncode == 1
    assert "✗ outputs: item 0 (sample_0000.png): render() must return None or the drawing at the item's resolution" in res.stdout
    assert "expected dtype uint8, got float64" in res.stdout
    assert "conformance of renderer plugin 'probe_sloppy': FAILED" in res.stderr


def test_check_reports_a_plugin_that_does_not_import(broken_site):
    res = uvd("plugins", "check", "probe_needs_lib", site=broken_site)
    assert res.returncode == 1
    assert (
        "transform plugin 'probe_needs_lib' (uvd_probe_needs_lib:Anything) does not import: "
        "ImportError: uvd_probe_needs_lib needs libfoo" in res.stderr
    )


def test_a_recipe_naming_a_plugin_that_does_not_import_is_refused_without_a_traceback(broken_site, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "sources:\n  - name: x\n    plugin: image_folder\n    params: {path: .}\n"
        "    category: unlabelled_images\n    transforms: [{plugin: probe_needs_lib}]\n"
    )
    res = uvd("run", str(recipe), "--out", str(tmp_path / "out"), "--engine", "local", site=broken_site)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "sources[0].transforms[0].plugin: transform plugin 'probe_needs_lib'" in res.stderr
    assert "ImportError: uvd_probe_needs_lib needs libfoo" in res.stderr


def test_check_passes_a_good_plugin_including_a_fresh_worker(broken_site):
    res = uvd("plugins", "check", "probe_invert", "--kind", "transform", site=broken_site)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "✓ fresh worker" in res.stdout and "passed (8 passed, 0 failed, 0 skipped)" in res.stdout


def test_check_usage_errors_exit_2():
    assert uvd("plugins", "check", "no_such_plugin").returncode == 2
    res = uvd("plugins", "check", "single", "--kind", "widget")
    assert res.returncode == 2 and "--kind 'widget'" in res.stderr
    res = uvd("plugins", "check", "single", "--params", "[1]")
    assert res.returncode == 2 and "JSON object" in res.stderr


def test_check_takes_params_that_override_the_example(tmp_path):
    from uvd_pipeline.testing import write_sample_images

    write_sample_images(tmp_path / "imgs", n=3)
    res = uvd("plugins", "check", "image_folder", "--no-fresh-process", "--params", f'{{"path": "{tmp_path / "imgs"}", "unit_size": 2}}')
    assert res.returncode == 0, res.stdout + res.stderr
    assert "outputs: 2 units, 3 items" in res.stdout  # the given folder, not the example's (3 units, 6 items)


def test_check_without_a_name_checks_every_installed_plugin(broken_site):
    res = uvd("plugins", "check", "--no-fresh-process", site=broken_site)
    assert res.returncode == 1, res.stdout + res.stderr
    rows = {line.split("│")[2].strip(): line for line in res.stdout.splitlines() if line.count("│") >= 5}
    from uvd_pipeline import registry

    builtins = [p.name for p in registry.describe() if p.distribution == "uvd-pipeline"]
    assert len(builtins) >= 30
    for name in builtins:  # every built-in appears, and none fails
        assert name in rows and "FAILED" not in rows[name], (name, res.stdout)
    assert "FAILED" in rows["probe_sloppy"] and "FAILED" in rows["probe_needs_lib"] and "does not load" in rows["probe_needs_lib"]
    assert "passed" in rows["probe_invert"] and "passed" in rows["image_folder"]
    mmpose_missing = subprocess.run([sys.executable, "-c", "import mmpose"], capture_output=True).returncode != 0
    if mmpose_missing:  # an optional extra that is not installed: skipped with the reason, not failed
        assert "skipped" in rows["mmpose_pose"] and "needs mmpose" in rows["mmpose_pose"]
    assert "plugins: " in res.stdout + res.stderr and "2 failed" in res.stderr

    only = uvd("plugins", "check", "--kind", "sequencer", "--no-fresh-process")
    assert only.returncode == 0, only.stdout + only.stderr
    assert "single" in only.stdout and "image_folder" not in only.stdout
    assert uvd("plugins", "check", "--params", "{}").returncode == 2  # params belong to one plugin


def test_new_writes_a_package_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "pkg"
    res = uvd("plugins", "new", "my_flow", "--kind", "renderer", "--dir", str(target))
    assert res.returncode == 0, res.stderr
    assert (target / "uvd_plugin_my_flow" / "renderer.py").exists() and "pip install -e" in res.stdout
    assert 'my_flow = "uvd_plugin_my_flow.renderer:MyFlowRenderer"' in (target / "pyproject.toml").read_text()
    again = uvd("plugins", "new", "my_flow", "--kind", "renderer", "--dir", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = uvd("plugins", "new", "My-Flow", "--dir", str(tmp_path / "other"))
    assert bad.returncode == 2 and "snake_case" in bad.stderr and not (tmp_path / "other").exists()
