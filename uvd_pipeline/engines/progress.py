"""Per-stage progress: rich bars on a terminal, `progress` log events elsewhere, nothing when quiet.

Three stages: `build` (units read and sequenced), `tokenize` (images encoded) and `commit` (units
written and committed), each with its rate; the commit stage also has an ETA for the run. Bars are
drawn when stderr is a terminal and logs are text; with `--log-format json`, or when stderr is a
file or a pipe (a batch job, `nohup`), the same figures go out as `progress` log events every
`every` seconds and once at the end, so log shippers and `tail -f` see them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ..console.logs import event, get_logger, json_logs, state

STAGES = ("build", "tokenize", "commit")
UNITS = {"build": "units", "tokenize": "images", "commit": "units"}
log = get_logger("progress")


class RunProgress:
    """Bars or events for units built, images tokenized and units committed."""

    def __init__(
        self, total_units: int, quiet: bool = False, console: Console | None = None, every: float | None = None
    ) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet or state.quiet
        self.bars = not self.quiet and not json_logs() and self.console.is_terminal
        self.every = every if every is not None else state.progress_every
        self.total_units = total_units
        self.done = dict.fromkeys(STAGES, 0)
        self.start = time.monotonic()
        self._last_event = self.start
        self.progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.bars,
        )
        self.tasks = {
            "build": self.progress.add_task("build", total=total_units, rate=""),
            "tokenize": self.progress.add_task("tokenize", total=None, rate=""),
            "commit": self.progress.add_task("commit", total=total_units, rate=""),
        }

    # kept for callers that use the attributes
    @property
    def built(self) -> Any:
        return self.tasks["build"]

    @property
    def tokenized(self) -> Any:
        return self.tasks["tokenize"]

    @property
    def committed(self) -> Any:
        return self.tasks["commit"]

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)
        if not self.bars and self.total_units:
            self._emit(final=True)

    # ------------------------------------------------------------------ engines call these
    def unit_built(self) -> None:
        self._advance("build", 1)

    def images_tokenized(self, n: int) -> None:
        self._advance("tokenize", n)

    def unit_committed(self) -> None:
        self._advance("commit", 1)

    def log(self, message: str) -> None:
        """An engine's message (a failed unit, a runner error): printed above the bars, or logged."""
        if self.bars:
            self.progress.console.print(message)
        else:
            event(log, "engine_message", Text.from_markup(message).plain, level=logging.WARNING)

    # ------------------------------------------------------------------ figures
    def rate(self, stage: str) -> float:
        elapsed = time.monotonic() - self.start
        return self.done[stage] / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        """Seconds until every unit is committed, at the commit rate so far (None before the first)."""
        rate = self.rate("commit")
        return (self.total_units - self.done["commit"]) / rate if rate > 0 else None

    def snapshot(self) -> dict[str, Any]:
        stages = {}
        for stage in STAGES:
            row: dict[str, Any] = {"done": self.done[stage], "unit": UNITS[stage], "rate_per_s": round(self.rate(stage), 3)}
            if stage != "tokenize":
                row["total"] = self.total_units
            stages[stage] = row
        eta = self.eta_s()
        return {
            "elapsed_s": round(time.monotonic() - self.start, 3),
            "eta_s": None if eta is None else round(eta, 1),
            "stages": stages,
        }

    def _advance(self, stage: str, n: int) -> None:
        self.done[stage] += n
        task = self.tasks[stage]
        self.progress.advance(task, n)
        self.progress.update(task, rate=f"{self.rate(stage):.1f} {UNITS[stage][:3]}/s")
        if not self.bars and time.monotonic() - self._last_event >= self.every:
            self._emit()

    def _emit(self, final: bool = False) -> None:
        self._last_event = time.monotonic()
        snap = self.snapshot()
        b, t, c = (snap["stages"][s] for s in STAGES)
        eta = "" if final or snap["eta_s"] is None else f", eta {snap['eta_s']:.0f} s"
        message = (
            f"{'done: ' if final else ''}built {b['done']}/{b['total']} units ({b['rate_per_s']:.2f}/s), "
            f"tokenized {t['done']} images ({t['rate_per_s']:.1f}/s), "
            f"committed {c['done']}/{c['total']} units ({c['rate_per_s']:.2f}/s){eta}"
        )
        event(log, "progress", message, final=final, **snap)
