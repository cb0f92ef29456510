"""`uvd plugins list | new | check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..console.tables import json_wanted, write_json
from .app import EXIT_FAILED, app, console, err_console, fail

plugins_app = typer.Typer(help="Installed plugins (sources, renderers, transforms, sequencers, filters).", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")

KIND_HELP = "source | renderer | transform | sequencer | filter"


@plugins_app.command("list")
def plugins_list(
    json_out: Optional[str] = typer.Option(None, "--json", help="write the list as JSON to this file; `-`: on stdout instead of the table"),
) -> None:
    """Every installed plugin with its distribution; a plugin that fails to import shows its error."""
    from dataclasses import asdict

    from ..registry import describe

    rows = describe()
    write_json([asdict(p) for p in rows], json_out)
    if json_wanted(json_out):
        return
    table = Table(title="uvd plugins")
    for col in ("kind", "name", "distribution", "version"):
        table.add_column(col, overflow="fold")
    table.add_column("target / error", overflow="fold")
    for p in rows:
        shown = f"[red]{escape(p.error)}[/]" if p.error else escape(p.target)
        table.add_row(p.kind, p.name, p.distribution, p.version, shown)
    console.print(table)
    broken = [p for p in rows if p.error]
    for p in broken:  # in full, unwrapped: the table may fold a long error
        err_console.print(
            f"[red]✗[/] {p.kind} {p.name!r} from {p.distribution} {p.version} ({escape(p.target)}) "
            f"does not load: {escape(p.error)}",
            soft_wrap=True,
            highlight=False,
        )


@plugins_app.command("new")
def plugins_new(
    name: str = typer.Argument(..., help="the plugin's registered name (snake_case), used in recipes"),
    kind: str = typer.Option("source", "--kind", "-k", help=KIND_HELP),
    directory: Optional[Path] = typer.Option(None, "--dir", "-d", help="where to write it (default ./uvd-plugin-NAME)"),
) -> None:
    """Write a ready-to-install plugin package: entry point, one method to fill in, README, passing test."""
    from ..testing.scaffold import PluginNames, new_plugin

    written = new_plugin(name, kind, directory)
    names = PluginNames(name, kind)
    root = directory or Path(names.dist)
    console.print(f"wrote [bold]{names.dist}[/] ({kind} [bold]{name}[/]) to {root}:", highlight=False)
    for path in written:
        console.print(f"  {path}", highlight=False)
    console.print(
        "next:\n"
        f"  pip install -e {root}\n"
        f"  (cd {root} && python -m pytest)        # its test runs the conformance suite\n"
        f"  uvd plugins check {name}\n"
        f"then replace the body of {names.cls}.{_method(kind)}() in {names.package}/{kind}.py",
        highlight=False,
    )


def _method(kind: str) -> str:
    from ..testing.scaffold import METHODS

    return METHODS[kind]


@plugins_app.command("check")
def plugins_check(
    name: Optional[str] = typer.Argument(None, help="an installed plugin's registered name (none: every installed plugin)"),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help=KIND_HELP + " (needed only if the name is ambiguous)"),
    params: Optional[str] = typer.Option(None, "--params", help="plugin params as JSON (default: its conformance_example)"),
    fresh_process: bool = typer.Option(True, "--fresh-process/--no-fresh-process", help="also ship it to a new Python process"),
    json_out: Optional[str] = typer.Option(None, "--json", help="write the verdicts as JSON to this file; `-`: on stdout instead of the table"),
) -> None:
    """Run the conformance suite against an installed plugin, or every installed one; exit 1 if any
    check fails. A plugin whose optional dependency is missing is reported as skipped."""
    from ..registry import KINDS

    if kind is not None and kind not in KINDS:
        fail(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    parsed = None
    if params is not None:
        if name is None:
            fail("--params needs a plugin NAME: params belong to one plugin")
        try:
            parsed = json.loads(params)
        except ValueError as exc:
            fail(f"--params: not valid JSON ({exc})")
        if not isinstance(parsed, dict):
            fail("--params: expected a JSON object of params")
    if name is None:
        _check_all(kind, fresh_process, json_out)
    else:
        _check_one(name, kind, parsed, fresh_process, json_out)


def _check_one(name: str, kind: str | None, params: dict | None, fresh_process: bool, json_out: str | None = None) -> None:
    from ..registry import PluginImportError
    from ..testing import conformance, find_plugin
    from ..testing.report import FAIL, PASS

    try:
        found_kind, cls = find_plugin(name, kind)
    except PluginImportError as exc:  # installed, but its module does not import: the plugin fails
        err_console.print(f"[red]✗[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    report = conformance(found_kind, cls, params, fresh_process=fresh_process)
    write_json({"kind": found_kind, "name": name, "verdict": report.verdict,
                "checks": [{"name": r.name, "status": r.status, "message": r.message} for r in report.results]}, json_out)
    if json_wanted(json_out):
        if not report.passed and not report.skipped:
            raise typer.Exit(EXIT_FAILED)
        return
    marks = {PASS: "[green]✓[/]", FAIL: "[red]✗[/]"}
    for r in report.results:
        msg = escape(r.message).replace("\n", "\n    ")
        console.print(f"{marks.get(r.status, '[dim]-[/]')} {r.name}" + (f": {msg}" if msg else ""), highlight=False, soft_wrap=True)
    head = escape(report.format().splitlines()[0])
    if not report.passed and not report.skipped:
        err_console.print(f"[red]{head}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[{'green' if report.passed else 'yellow'}]{head}[/]", highlight=False, soft_wrap=True)


def _check_all(kind: str | None, fresh_process: bool, json_out: str | None = None) -> None:
    """One row per installed plugin (of `kind`, if given): its verdict and its first failure."""
    from ..registry import describe, load
    from ..testing import conformance
    from ..testing.report import FAIL, SKIP

    rows = [p for p in describe() if kind is None or p.kind == kind]
    table = Table(title="uvd plugins check")
    for col in ("kind", "name", "distribution", "result", "first failure / skip reason"):
        table.add_column(col, overflow="fold")
    failed = 0
    verdicts = []
    for p in rows:
        if p.error:
            verdict, why = "FAILED", f"does not load: {p.error}"
        else:
            report = conformance(p.kind, load(p.kind, p.name), None, fresh_process=fresh_process)
            verdict = report.verdict
            first = next((r for r in report.results if r.status == (SKIP if report.skipped else FAIL)), None)
            why = f"{first.name}: {first.message}" if first and not report.passed else ""
        failed += verdict == "FAILED"
        verdicts.append({"kind": p.kind, "name": p.name, "distribution": p.distribution, "version": p.version,
                         "verdict": verdict, "why": why})
        colour = {"passed": "green", "skipped": "yellow"}.get(verdict, "red")
        table.add_row(p.kind, p.name, f"{p.distribution} {p.version}", f"[{colour}]{verdict}[/]", escape(why.splitlines()[0] if why else ""))
    write_json(verdicts, json_out)
    if not json_wanted(json_out):
        console.print(table)
    summary = f"{len(rows)} plugins: {len(rows) - failed} passed or skipped, {failed} failed"
    if failed:
        err_console.print(f"[red]{summary}[/]", highlight=False)
        raise typer.Exit(EXIT_FAILED)
    (err_console if json_wanted(json_out) else console).print(f"[green]{summary}[/]", highlight=False)
