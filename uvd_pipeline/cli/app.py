"""The Typer application shared by the command modules."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

app = typer.Typer(
    name="uvd",
    help="Build UVDv1-style datasets of tokenized visual sequences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (verify mismatch, failed units, strict audit)
EXIT_USAGE = 2  # bad arguments, invalid recipe, unknown plugin, missing files


def fail(message: str, code: int = EXIT_USAGE) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)
