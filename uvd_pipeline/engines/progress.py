"""Per-stage progress on the terminal (rich), quiet when asked."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunProgress:
    """Bars for units read+built, images tokenized and units committed."""

    def __init__(self, total_units: int, quiet: bool = False, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            disable=quiet,
        )
        self.built = self.progress.add_task("build", total=total_units, rate="")
        self.tokenized = self.progress.add_task("tokenize", total=None, rate="")
        self.committed = self.progress.add_task("commit", total=total_units, rate="")

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def unit_built(self) -> None:
        self.progress.advance(self.built)

    def images_tokenized(self, n: int) -> None:
        self.progress.advance(self.tokenized, n)
        task = self.progress.tasks[self.tokenized]
        if task.elapsed:
            self.progress.update(self.tokenized, rate=f"{task.completed / task.elapsed:.1f} img/s")

    def unit_committed(self) -> None:
        self.progress.advance(self.committed)

    def log(self, message: str) -> None:
        self.progress.console.print(message)
