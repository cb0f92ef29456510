"""The Typer application shared by the command modules."""

from __future__ import annotations

import logging
import sys

import typer

from ..console.tables import PipeSafeConsole

app = typer.Typer(
    name="uvd",
    help="Build UVDv1-style datasets of tokenized visual sequences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = PipeSafeConsole()  # full-width rows, no wrapping, when stdout is not a terminal
err_console = PipeSafeConsole(stderr=True)

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (verify mismatch, failed units, strict audit)
EXIT_USAGE = 2  # bad arguments, invalid recipe, unknown plugin, missing files


EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT: committed units are kept, rerun to resume


def fail(message: str, code: int = EXIT_USAGE) -> None:
    from ..console.logs import event, get_logger, json_logs

    if json_logs():
        event(get_logger("cli"), "error", message, level=logging.ERROR, exit_code=code)
    else:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def warn(message: str, event_name: str = "warning", level: int = logging.WARNING, **fields: object) -> None:
    """A message for the operator on stderr: rich text, or a JSON log line under --log-format json."""
    from ..console.logs import event, get_logger, json_logs

    if json_logs():
        from rich.text import Text

        event(get_logger("cli"), event_name, Text.from_markup(message).plain, level=level, **fields)
    else:
        err_console.print(message, highlight=False)


@app.callback()
def global_options(
    log_format: str = typer.Option("text", "--log-format", help="text | json (one JSON object per line on stderr)"),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or info logs; results and errors still print"),
    progress_every: float = typer.Option(
        10.0, "--progress-every", help="seconds between progress log events when no bars are drawn (json logs, no terminal)"
    ),
) -> None:
    """Build UVDv1-style datasets of tokenized visual sequences."""
    from ..console.logs import configure_logging

    try:
        configure_logging(log_format, log_level, quiet=quiet, progress_every=progress_every)
    except ValueError as exc:
        fail(str(exc))
