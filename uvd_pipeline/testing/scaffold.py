"""`uvd plugins new`: write a ready-to-install plugin package that works and passes its own test.

The package has a pyproject.toml with the entry point, one module whose single method holds a
trivial working implementation to replace, a README, and a test that runs the conformance suite
(uvd_pipeline.testing). Templates live in uvd_pipeline/testing/scaffold_templates/*.tmpl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from .. import __version__
from ..errors import UvdError
from ..registry import KINDS

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
METHODS = {"source": "read", "renderer": "render", "transform": "apply", "sequencer": "build", "filter": "score"}
CHECKS = {
    "source": "check_source",
    "renderer": "check_renderer",
    "transform": "check_transform",
    "sequencer": "check_sequencer",
    "filter": "check_filter",
}


class ScaffoldError(UvdError):
    pass


@dataclass(frozen=True)
class PluginNames:
    """Every name the package derives from the plugin's name and kind."""

    name: str  # the registered name, used in recipes
    kind: str

    @property
    def dist(self) -> str:
        return "uvd-plugin-" + self.name.replace("_", "-")

    @property
    def package(self) -> str:
        return "uvd_plugin_" + self.name

    @property
    def cls(self) -> str:
        camel = "".join(part.capitalize() for part in self.name.split("_") if part)
        suffix = self.kind.capitalize()
        return camel if camel.endswith(suffix) else camel + suffix

    def substitutions(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dist": self.dist,
            "package": self.package,
            "class": self.cls,
            "group": KINDS[self.kind][0],
            "method": METHODS[self.kind],
            "check": CHECKS[self.kind],
            "uvd_version": __version__,
            "recipe_snippet": _recipe_snippet(self),
        }


def _recipe_snippet(names: PluginNames) -> str:
    if names.kind == "filter":
        return "\n".join(
            ["```yaml", "curation:", "  filters:", f"    - plugin: {names.name}", "      params: {min_colorfulness: 5.0}", "```"]
        )
    lines = ["```yaml", "sources:"]
    if names.kind == "source":
        lines += [f"  - name: my_{names.name}", f"    plugin: {names.name}", "    params: {path: data/my_folder}"]
    else:
        lines += ["  - name: my_images", "    plugin: image_folder", "    params: {path: data/images}"]
    lines += ["    category: annotated_images" if names.kind != "source" else "    category: unlabelled_images"]
    if names.kind == "renderer":
        lines += ["    renderers:", f"      - plugin: {names.name}"]
    elif names.kind == "transform":
        lines += ["    transforms:", f"      - plugin: {names.name}"]
    elif names.kind == "sequencer":
        lines += ["    sequencer:", f"      plugin: {names.name}", "      params: {group_size: 4}"]
    return "\n".join(lines + ["```"])


def _template(name: str) -> str:
    return (files("uvd_pipeline.testing") / "scaffold_templates" / f"{name}.tmpl").read_text(encoding="utf-8")


def _fill(text: str, subs: dict[str, str]) -> str:
    for key, value in subs.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:
        raise ScaffoldError(f"template placeholder(s) {sorted(set(left))} have no value")
    return text


def new_plugin(name: str, kind: str = "source", directory: str | Path | None = None) -> list[Path]:
    """Write the package for plugin `name` of `kind` into `directory` (default ./uvd-plugin-NAME).

    Refuses a directory that exists and is not empty. Returns the files written.
    """
    if not NAME.match(name):
        raise ScaffoldError(f"plugin name {name!r}: use snake_case (a-z, 0-9, _), starting with a letter")
    if kind not in KINDS:
        raise ScaffoldError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
    names = PluginNames(name, kind)
    root = Path(directory) if directory is not None else Path(names.dist)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root}: already exists and is not an empty folder; choose another --dir")
    subs = names.substitutions()
    layout = {
        "pyproject.toml": "pyproject.toml",
        "README.md": "README.md",
        f"{names.package}/__init__.py": None,
        f"{names.package}/{kind}.py": f"{kind}.py",
        f"tests/test_{name}.py": f"test_{kind}.py",
    }
    written = []
    for rel, template in layout.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if template is None:
            text = f'"""uvd_pipeline {kind} plugin `{name}`; registered in pyproject.toml."""\n'
        else:
            text = _fill(_template(template), subs)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
