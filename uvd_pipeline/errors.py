"""Errors a user sees. Each names the file and the field or record at fault."""


class UvdError(Exception):
    """Base for errors that the CLI reports without a traceback."""


class RecipeError(UvdError):
    pass


class UnknownPluginError(UvdError):
    pass


class BadInput(Exception):
    """Raised by readers for one record; becomes a reject row, never stops a run."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DatasetError(UvdError):
    pass


class RunFailed(UvdError):
    """A run that started and hit a problem (not a usage error); engines raise it."""

    exit_code = 1
