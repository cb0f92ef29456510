"""Logs for operators: human lines on a terminal, or one JSON object per line (`--log-format json`)
for log shippers (Loki, CloudWatch, Stackdriver, Elasticsearch ...).

Every record goes to stderr through the `uvd_pipeline` logger. Structured fields ride in the
record's `extra`: `event` names what happened (`run_started`, `unit_committed`, `unit_failed`,
`progress`, `run_finished`, `error`) and the other keys carry its facts (unit, images, rate, eta_s
...). A JSON line holds `ts` (UTC, ISO 8601), `level`, `logger`, `message`, `event` and those keys.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from .library_logs import route_library_logs

LOG_FORMATS = ("text", "json")
LOGGER_NAME = "uvd_pipeline"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the record's `extra` fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`HH:MM:SS level   message`: messages carry their figures; the fields are for JSON."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{when} {record.levelname.lower():<7} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes: rich's progress display swaps it
    for a proxy that prints above the bars, and test runners swap it to capture output."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _State:
    format: str = "text"
    quiet: bool = False
    configured: bool = False
    progress_every: float = 10.0  # seconds between `progress` events when no bars are drawn


state = _State()


def configure_logging(
    fmt: str = "text", level: str = "info", quiet: bool = False, stream: Any = None, progress_every: float = 10.0
) -> logging.Logger:
    """Set up the `uvd_pipeline` logger once per process (the CLI's top-level options call this).

    `quiet` raises the level to warnings; progress bars also look at `state.quiet`."""
    if progress_every <= 0:
        raise ValueError(f"--progress-every {progress_every}: must be > 0 seconds")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"--log-format {fmt!r}: choose one of {', '.join(LOG_FORMATS)}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"--log-level {level!r}: choose one of debug, info, warning, error")
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "_uvd", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler._uvd = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(max(numeric, logging.WARNING) if quiet else numeric)
    logger.propagate = False
    route_library_logs(_library_handler(handler))  # other libraries' warnings as our lines (console/library_logs.py)
    state.format, state.quiet, state.configured, state.progress_every = fmt, quiet, True, progress_every
    return logger


def _library_handler(ours: logging.Handler) -> logging.Handler:
    """A second handler like ours (same stream and formatter) for other libraries, at WARNING."""
    handler = logging.StreamHandler(ours.stream) if not isinstance(ours, _StderrHandler) else _StderrHandler()
    handler.setFormatter(ours.formatter)
    handler.setLevel(logging.WARNING)
    return handler


def reset_logging() -> None:
    """Undo configure_logging (tests that run the CLI in-process call this between commands)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "_uvd", False):
            logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    route_library_logs(None)
    state.format, state.quiet, state.configured, state.progress_every = "text", False, False, 10.0


def set_quiet() -> None:
    """What `--quiet` means after start-up (e.g. `uvd run -q`): warnings and errors only, no bars."""
    state.quiet = True
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))


def json_logs() -> bool:
    return state.configured and state.format == "json"


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def event(logger: logging.Logger, name: str, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `message` with `event=name` and `fields` as structured data."""
    logger.log(level, message, extra={"event": name, **fields})

