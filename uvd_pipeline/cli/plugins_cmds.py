"""`uvd plugins ...`."""

from __future__ import annotations

import typer
from rich.table import Table

from .app import app, console

plugins_app = typer.Typer(help="Installed plugins (sources, renderers, transforms, sequencers).", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")


@plugins_app.command("list")
def plugins_list() -> None:
    """Every installed plugin with its distribution; a plugin that fails to import shows its error."""
    from ..registry import describe

    table = Table(title="uvd plugins")
    for col in ("kind", "name", "distribution", "version", "target / error"):
        table.add_column(col)
    for p in describe():
        shown = f"[red]{p.error}[/]" if p.error else p.target
        table.add_row(p.kind, p.name, p.distribution, p.version, shown)
    console.print(table)
