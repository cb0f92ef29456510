"""The `uvd` command. Each sub-module adds its commands to `app`."""

from __future__ import annotations

import sys

from .app import app, console, fail  # noqa: F401
from . import audit_cmds, build_cmds, export_cmds, plan_cmds, plugins_cmds, samples_cmds  # noqa: F401,E402  (register commands)


def main() -> None:
    from ..errors import UvdError

    try:
        result = app(standalone_mode=False)
        if isinstance(result, int):
            sys.exit(result)
    except UvdError as exc:
        fail(str(exc))
    except SystemExit as exc:
        sys.exit(exc.code)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
