"""What an interrupted run says: "interrupted: N of M units committed; rerun the same command to
resume". `run_recipe` records the run's output and planned units when it starts (`run_started`);
after Ctrl-C the CLI counts the committed units from the ledger (the only record of a commit)."""

from __future__ import annotations

from dataclasses import dataclass

from ..manifests.schema import LEDGER_DIR
from ..manifests.store import OutputStore


@dataclass
class _Started:
    out: str
    planned: int


_current: list[_Started] = []


def run_started(out: str, planned: int) -> None:
    """Called by run_recipe once the units are planned and the output folder exists."""
    _current[:] = [_Started(out, planned)]


def interrupted_message() -> str:
    """The line to print after Ctrl-C, counting what is committed now."""
    if not _current:
        return "interrupted before any unit was planned: nothing was committed"
    started = _current[0]
    try:
        committed = len(OutputStore(started.out).list(LEDGER_DIR, ".json"))
    except OSError:
        return f"interrupted: {started.planned} units planned; rerun the same command to resume"
    return f"interrupted: {committed} of {started.planned} units committed; rerun the same command to resume"


def forget() -> None:
    """Before a new run in the same process (the CLI calls it first)."""
    _current.clear()
