"""Output that survives a pipe: on a terminal, rich fits tables to the window; anywhere else (a
pipe, a file, a batch log) every row is printed at its full width, nothing truncated or wrapped,
and `--json -` prints the same facts as one JSON document instead of the tables.

The CLI's consoles are PipeSafeConsole objects: they decide at each print whether stdout (or
stderr) is a terminal, so a test runner or a shell swapping the stream is seen.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, ConsoleDimensions

#: width used when the stream is not a terminal: wide enough that no table column is cut
PIPE_WIDTH = 100_000

#: the value of `--json` that means "stdout" (and no tables)
STDOUT = "-"


class PipeSafeConsole(Console):
    """A rich Console that, when its stream is not a terminal, never wraps or truncates: tables
    take their natural width and long lines stay one line."""

    @property
    def width(self) -> int:  # type: ignore[override]
        if not self.is_terminal and self._width is None:
            return PIPE_WIDTH
        return Console.width.fget(self)  # type: ignore[attr-defined]

    @width.setter
    def width(self, value: int) -> None:
        Console.width.fset(self, value)  # type: ignore[attr-defined]

    @property
    def size(self) -> ConsoleDimensions:  # type: ignore[override]
        got = Console.size.fget(self)  # type: ignore[attr-defined]
        if not self.is_terminal and self._width is None:
            return ConsoleDimensions(PIPE_WIDTH, got.height)
        return got

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if not self.is_terminal:
            kwargs.setdefault("soft_wrap", True)
            kwargs.setdefault("crop", False)
        super().print(*objects, **kwargs)


def json_wanted(dest: str | None) -> bool:
    """True when `--json` asks for JSON on stdout in place of the tables."""
    return dest == STDOUT


def write_json(data: Any, dest: str | None) -> None:
    """Write `data` as JSON to `dest`: a file path, or stdout for "-"; nothing for None."""
    if dest is None:
        return
    text = json.dumps(data, indent=1, default=str, ensure_ascii=False)
    if dest == STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    with open(dest, "w", encoding="utf-8") as f:
        f.write(text + "\n")
