"""Progress of a command that walks a finished dataset unit by unit (`uvd digest`, `uvd verify`,
`uvd export`): a rich bar on a terminal; `progress` log events every few seconds and once at the
end under `--log-format json` or when stderr is a file or a pipe; nothing with `--quiet`.

The walking functions take a plain callback `on_unit(done, total)` and know nothing of this class,
so the library stays usable without a terminal or a logger.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .logs import event, get_logger, json_logs, state

log = get_logger("progress")


class WalkProgress:
    """Call it as `on_unit(done, total)`; use it as a context manager around the walk."""

    def __init__(self, label: str, quiet: bool = False, console: Console | None = None, every: float | None = None) -> None:
        self.label = label
        self.console = console or Console(stderr=True)
        self.quiet = quiet or state.quiet
        self.bars = not self.quiet and not json_logs() and self.console.is_terminal
        self.every = every if every is not None else state.progress_every
        self.done = self.total = 0
        self.start = self._last = time.monotonic()
        self.progress = Progress(
            TextColumn(f"[bold]{label:<10}"), BarColumn(), MofNCompleteColumn(), TextColumn("units"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, disable=not self.bars,
        )
        self.task = self.progress.add_task(label, total=None)

    def __enter__(self) -> WalkProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)
        if not self.bars and not self.quiet and self.total:
            self._emit(final=True)

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.progress.update(self.task, completed=done, total=total)
        if not self.bars and not self.quiet and time.monotonic() - self._last >= self.every:
            self._emit()

    def _emit(self, final: bool = False) -> None:
        self._last = time.monotonic()
        elapsed = self._last - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 and not final else None
        tail = "" if eta is None else f", eta {eta:.0f} s"
        event(log, "progress", f"{self.label}: {'read ' if final else ''}{self.done}/{self.total} units "
              f"({rate:.2f}/s){tail}", command=self.label, done=self.done, total=self.total,
              rate_per_s=round(rate, 3), elapsed_s=round(elapsed, 3), eta_s=None if eta is None else round(eta, 1),
              final=final)
