"""The package's import graph, read with `ast` (every import, lazy ones inside functions too):
each layer imports only downward, and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import uvd_pipeline

PACKAGE = Path(uvd_pipeline.__file__).parent
PLUGINS = {"sources", "renderers", "sequencers", "transforms", "estimators", "filters"}
# area -> areas it must never import (an area is a subpackage, or "" for the package root)
FORBIDDEN = {
    **{p: {"samples", "testing", "cli", "engines", "audit", "pipeline"} for p in PLUGINS},
    "pipeline": {"audit", "engines", "cli", "samples", "testing"},
    "engines": {"audit", "cli", "samples", "testing"},
    "manifests": {"pipeline", "engines", "audit", "cli", "samples", "testing", *PLUGINS},
    "tokenizer": {"pipeline", "engines", "audit", "cli", "samples", "testing", "manifests", *PLUGINS},
    "samples": {"testing", "cli", "engines", "audit"},
    "storage": {"manifests", "pipeline", "engines", "audit", "cli", "samples", "testing", *PLUGINS},
    "console": {"manifests", "pipeline", "engines", "audit", "cli", "samples", "testing", *PLUGINS},
}
ROOT_MODULES = {"__init__", "__main__", "types", "stages", "ids", "errors", "images", "recipe", "registry"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[tuple[str, int]]:
    """(imported module of this package, line) for every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{a.name}" for a in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for cand in candidates:
            while cand and cand not in known:
                cand = cand.rpartition(".")[0]
            if cand.startswith("uvd_pipeline") and cand != name:
                out.add((cand, node.lineno))
    return out


def graph() -> dict[str, set[tuple[str, int]]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


def test_the_import_reader_sees_relative_and_lazy_imports() -> None:
    edges = graph()
    assert any(t == "uvd_pipeline.pipeline.quota" for t, _ in edges["uvd_pipeline.pipeline.build"])  # from .quota
    # a lazy import inside a function (engines/base.py imports the local engine only when asked)
    assert any(t == "uvd_pipeline.engines.local" for t, _ in edges["uvd_pipeline.engines.base"])


def test_each_layer_imports_only_downward() -> None:
    wrong = []
    for module, targets in graph().items():
        banned = FORBIDDEN.get(area(module), set())
        for target, line in sorted(targets):
            if area(target) in banned:
                wrong.append(f"{module} (line {line}) imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over module -> module imports; a package's
    __init__ handing on its modules' names is not a cycle."""
    edges = {m: {t for t, _ in ts} for m, ts in graph().items()}
    is_init = {m: p.name == "__init__.py" for m, p in modules().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if is_init[v] or is_init[w]:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    shown = []
    for component in cycles:
        members = set(component)
        ties = [f"  {m} -> {t} (line {n})" for m in component for t, n in sorted(graph_of(m)) if t in members]
        shown.append("cycle: " + ", ".join(component) + "\n" + "\n".join(ties))
    assert not cycles, "\n".join(shown)


def graph_of(module: str) -> set[tuple[str, int]]:
    return imports_of(module, modules()[module], modules())


def test_the_root_holds_only_the_model_the_recipe_and_the_registry() -> None:
    stray = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ROOT_MODULES)
    assert not stray, f"modules at the package root that belong in a subpackage: {stray}"


def test_a_forbidden_import_is_reported(tmp_path, monkeypatch) -> None:
    """The check can fail: a plugin module that imports the sample world is named with its line."""
    known = {"uvd_pipeline.sources.bad": tmp_path / "bad.py", "uvd_pipeline.samples.world": tmp_path / "w.py"}
    (tmp_path / "bad.py").write_text("import os\n\ndef f():\n    from ..samples.world import make_samples\n")
    found = imports_of("uvd_pipeline.sources.bad", known["uvd_pipeline.sources.bad"], known)
    assert found == {("uvd_pipeline.samples.world", 4)}
    assert area("uvd_pipeline.samples.world") in FORBIDDEN["sources"]
