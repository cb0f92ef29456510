"""`uvd plugins show NAME`: what a plugin reads and expects, its parameters (type, default,
description, from its pydantic `Params` model) and a recipe snippet to start from."""

from __future__ import annotations

import inspect
import sys
import typing
from typing import Any, Optional

import typer
import yaml
from pydantic_core import PydanticUndefined
from rich.markup import escape
from rich.table import Table

from ..console.tables import json_wanted, write_json
from .app import console
from .plugins_cmds import KIND_HELP, plugins_app

REQUIRED = "(required)"

#: where each kind goes in a recipe, and an example of the surrounding source entry
PLACEMENT = {
    "source": "sources[]",
    "renderer": "sources[].renderers[]",
    "transform": "sources[].transforms[]",
    "sequencer": "sources[].sequencer",
    "filter": "curation.filters[]",
}


def type_name(annotation: Any) -> str:
    """`int`, `str | None`, `list[str]`, `'all' | 'boxes'` ... as a reader writes them."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join("None" if a is type(None) else type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def param_rows(cls: type) -> list[dict[str, Any]]:
    """One dict per parameter of a plugin: name, type, default (or required), description."""
    rows = []
    for name, f in cls.Params.model_fields.items():
        if f.default is not PydanticUndefined:
            default = f.default
        elif f.default_factory is not None:
            default = f.default_factory()
        else:
            default = REQUIRED
        rows.append({"name": name, "type": type_name(f.annotation), "default": default,
                     "required": default == REQUIRED, "description": f.description or ""})
    return rows


def expects(cls: type) -> str:
    """What the plugin reads: its class docstring, else its module's docstring."""
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    if not doc:
        doc = inspect.getdoc(sys.modules.get(cls.__module__)) or ""
    return doc.strip()


def _placeholder(row: dict[str, Any]) -> Any:
    if not row["required"]:
        return row["default"]
    hint = row["description"] or row["type"]
    if row["type"].startswith("'"):  # a Literal: its first choice
        return row["type"].split(" | ")[0].strip("'")
    if row["type"].startswith("dict["):
        return {"<name>": f"<{hint}>"}
    return [f"<{hint}>"] if row["type"].startswith("list[") else f"<{hint}>"


def snippet(kind: str, name: str, rows: list[dict[str, Any]]) -> str:
    """A recipe fragment with the plugin in place: required params as <placeholders>."""
    params = {r["name"]: _placeholder(r) for r in rows if r["required"]}
    ref: dict[str, Any] = {"plugin": name, **({"params": params} if params else {})}
    if kind == "source":
        entry: dict[str, Any] = {"name": f"my_{name}", **ref, "category": "unlabelled_images", "task": "image"}
    else:
        entry = {"name": "my_source", "plugin": "image_folder", "params": {"path": "<folder of images>"},
                 "category": "annotated_images", "task": "my_task"}
        if kind == "sequencer":
            entry["sequencer"] = ref
        else:
            entry[f"{kind}s"] = [ref]
            entry["sequencer"] = {"plugin": "pairs"}
    doc: dict[str, Any] = {"sources": [entry]}
    if kind == "filter":  # a filter scores every source's images in the curation pass
        entry.pop(f"{kind}s", None)
        entry.pop("sequencer", None)
        doc["curation"] = {"filters": [ref]}
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)
    optional = [r["name"] for r in rows if not r["required"]]
    if optional:
        text += f"# optional params: {', '.join(optional)}\n"
    return text


def snippet_problem(cls: type, rows: list[dict[str, Any]]) -> str:
    """What the plugin's own checks say about the snippet's params (a rule across params, such as
    "either input and output, or pairs_file"), or "" when they pass."""
    from pydantic import ValidationError

    try:
        cls.Params(**{r["name"]: _placeholder(r) for r in rows if r["required"]})
    except ValidationError as exc:
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
    return ""


@plugins_app.command("show")
def plugins_show(
    name: str = typer.Argument(..., help="an installed plugin's registered name (see `uvd plugins list`)"),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help=KIND_HELP + " (needed only if the name is ambiguous)"),
    json_out: Optional[str] = typer.Option(None, "--json", help="write the description as JSON to this file; `-`: on stdout"),
) -> None:
    """A plugin's parameters (type, default, description), the inputs it expects, and a recipe snippet."""
    from .. import registry
    from ..testing import find_plugin
    from .app import fail

    if kind is not None and kind not in registry.KINDS:
        fail(f"--kind {kind!r}: expected one of {', '.join(registry.KINDS)}")
    found_kind, cls = find_plugin(name, kind)
    rows = param_rows(cls)
    recipe = snippet(found_kind, name, rows)
    problem = snippet_problem(cls, rows)
    if problem:
        recipe += f"# also needed: {problem}\n"
    about = {"kind": found_kind, "name": name, "target": registry.target(found_kind, name),
             "expects": expects(cls), "params": rows, "recipe": recipe, "placement": PLACEMENT.get(found_kind, found_kind)}
    write_json(about, json_out)
    if json_wanted(json_out):
        return
    console.print(f"[bold]{found_kind} {name}[/] ({escape(about['target'])}) goes in {about['placement']}", highlight=False)
    if about["expects"]:
        console.print(escape(about["expects"]), highlight=False)
    table = Table(title=f"{name} params")
    for col in ("param", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        default = r["default"] if r["required"] else repr(r["default"])
        table.add_row(r["name"], escape(r["type"]), escape(str(default)), escape(r["description"]))
    if not rows:
        table.add_row("—", "", "", "no params")
    console.print(table)
    console.print("recipe snippet:", highlight=False)
    console.print(escape(recipe), highlight=False, markup=True)
