"""The `uvd` command. Each sub-module adds its commands to `app`."""

from __future__ import annotations

import sys

from .app import app, console, fail  # noqa: F401
from . import audit_cmds, build_cmds, export_cmds, plan_cmds, plugins_cmds, plugins_show, samples_cmds, tokenizer_cmds  # noqa: F401,E402  (register commands)


def main() -> None:
    from ..errors import UvdError

    try:
        result = app(standalone_mode=False)
        if isinstance(result, int):
            sys.exit(result)
    except UvdError as exc:
        fail(str(exc), getattr(exc, "exit_code", 2))
    except SystemExit as exc:
        sys.exit(exc.code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        import typer

        if isinstance(exc, typer.Abort):
            sys.exit(130)
        # Usage errors (bad option values, missing arguments): typer vendors click's exception
        # classes in recent releases, so recognise them by their interface, not their module.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise
