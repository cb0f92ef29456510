"""Deadlines for unit tasks (`uvd run --unit-timeout SECONDS`; none by default).

A unit that does not finish in time (a decoder hung in C code, a FIFO, a dead network mount) is
retried once in a fresh process; if it overruns again it fails with an error naming the unit and
the timeout, and the run goes on with the other units (and exits 1, like any failed unit).

What can be interrupted decides the mechanism. A Python thread cannot be killed: a thread stuck
in `open()` on a FIFO or inside a C decoder never reaches a point where an exception could be
raised, and a process holding such a thread cannot even exit cleanly. So a unit with a deadline
is built in a child process (`IsolatedBuilder`), and an overrun kills that process (SIGKILL) and
starts a new one. Only the build (reading, decoding, rendering, sequencing — where inputs are
touched) runs there; tokenizing and the commit stay in the engine's process. On Ray the whole unit
task has the deadline (`Deadlines`: `ray.wait` with a timeout, then `ray.cancel(force=True)`,
which kills the worker process, and one resubmission); its clock starts when the task reports
that it started (to a `StartClock` actor, after its imports and set-up) and again when the
tokenizer actors have loaded, so waiting for a worker process, a CPU or a model is not charged.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import time
from typing import Any

from ..pipeline.build import UnitBuild, UnitBuilder
from ..recipe import Recipe
from ..types import WorkUnit

RETRIES = 1  # a unit that overruns gets one more try in a fresh process
START_TIMEOUT = 120.0  # a child builder must come up (import uvd and the plugins) within this


def timeout_message(unit_id: str, timeout: float, tries: int) -> str:
    return (f"UnitTimeout: unit {unit_id} gave no result within --unit-timeout {timeout:g} s, "
            f"{tries} tries (each in a fresh process, killed at the deadline)")


class UnitTimeout(Exception):
    def __init__(self, unit_id: str, timeout: float, tries: int) -> None:
        super().__init__(timeout_message(unit_id, timeout, tries).removeprefix("UnitTimeout: "))


def _die_with_parent() -> None:
    try:  # Linux: SIGKILL this process when its parent dies (a killed run leaves no hung builder)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(recipe: dict[str, Any], conn: Any) -> None:
    """The child: build the units it is sent until it is sent None."""
    _die_with_parent()
    builder = UnitBuilder(recipe)
    conn.send(("ready", None))
    try:
        while (row := conn.recv()) is not None:
            try:
                reply = ("ok", builder.build(WorkUnit.from_row(row)))
            except Exception as exc:  # the unit fails as it would in process
                reply = ("error", exc)
            try:
                conn.send(reply)
            except Exception as exc:  # an exception (or a result) that does not pickle
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    except EOFError:  # the parent is gone
        pass
    finally:
        builder.close()


class IsolatedBuilder:
    """A UnitBuilder in a child process, with a deadline per unit: same build() and close()."""

    def __init__(self, recipe: Recipe | dict[str, Any], timeout: float, retries: int = RETRIES) -> None:
        self.recipe = recipe if isinstance(recipe, Recipe) else Recipe.model_validate(recipe)
        self.timeout, self.retries = float(timeout), retries
        self._proc: Any = None
        self._conn: Any = None
        self.kills = 0  # child processes killed at a deadline (for tests and logs)

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that holds torch threads
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(self.recipe.model_dump(mode="json"), child),
                                 name="uvd-unit-builder")
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(max(START_TIMEOUT, self.timeout)):
            self._kill()
            raise RuntimeError(f"the unit builder process did not start within {max(START_TIMEOUT, self.timeout):g} s")
        try:
            parent.recv()  # ("ready", None)
        except EOFError:
            code = self._proc.exitcode
            self._kill()
            raise RuntimeError(f"the unit builder process died while starting (exit code {code})") from None

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
        self._proc = self._conn = None

    def _attempt(self, unit: WorkUnit) -> UnitBuild | None:
        """The unit's build, or None when the deadline passed (the child is killed)."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send(unit.to_row())
        if not self._conn.poll(self.timeout):
            self._kill()
            self.kills += 1
            return None
        try:
            kind, value = self._conn.recv()
        except EOFError:  # the child crashed (a segfault in a decoder): like a failed unit
            code = self._proc.exitcode
            self._kill()
            raise RuntimeError(f"the process building unit {unit.id} died (exit code {code})") from None
        if kind == "error":
            raise value
        return value

    def build(self, unit: WorkUnit) -> UnitBuild:
        for _ in range(1 + self.retries):
            built = self._attempt(unit)
            if built is not None:
                return built
        raise UnitTimeout(unit.id, self.timeout, 1 + self.retries)

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            self._conn.send(None)
            self._proc.join(10)
        except (OSError, ValueError):
            pass
        self._kill()


def make_builder(recipe: Recipe | dict[str, Any], unit_timeout: float | None):
    """A UnitBuilder in this process, or with a deadline per unit in a child process."""
    return IsolatedBuilder(recipe, unit_timeout) if unit_timeout else UnitBuilder(recipe)


class StartClock:
    """Ray: a tiny actor that unit tasks tell when they start (after their imports and set-up), so a
    unit's clock runs from then, not while it waits for a worker process or a CPU."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def started(self, unit_id: str) -> None:
        self.ids.append(unit_id)

    def drain(self) -> list[str]:
        ids, self.ids = self.ids, []
        return ids


POLL_SECONDS = 0.5  # how often the driver asks the StartClock while tasks have not started


class Deadlines:
    """Deadlines of submitted tasks (Ray): which have passed, and how long to wait for the next.
    A task's clock starts when it reports its start (`started`); one that never does within
    START_TIMEOUT of its submission gets its clock started then."""

    def __init__(self, timeout: float | None, retries: int = RETRIES) -> None:
        self.timeout, self.retries = timeout, retries
        self._due: dict[Any, list] = {}  # ref -> [deadline or None (not started), tries so far, unit id, submitted]

    def add(self, ref: Any, unit_id: str, tries: int = 1) -> None:
        if self.timeout:
            self._due[ref] = [None, tries, unit_id, time.monotonic()]

    def started(self, unit_ids: list[str]) -> None:
        now, ids = time.monotonic(), set(unit_ids)
        for entry in self._due.values():
            if entry[0] is None and entry[2] in ids:
                entry[0] = now + self.timeout

    def restart(self) -> None:
        """Start the running clocks again from now (the tokenizers just finished loading)."""
        for entry in self._due.values():
            if entry[0] is not None:
                entry[0] = time.monotonic() + self.timeout

    def done(self, ref: Any) -> None:
        self._due.pop(ref, None)

    def _deadline(self, entry: list) -> float:
        return entry[0] if entry[0] is not None else entry[3] + START_TIMEOUT + self.timeout

    def wait_seconds(self) -> float | None:
        """For ray.wait(timeout=...): until the next deadline, or the next look at the StartClock
        (None: no deadline, wait as long as it takes)."""
        if not self._due:
            return None
        wait = min(self._deadline(e) for e in self._due.values()) - time.monotonic()
        if any(e[0] is None for e in self._due.values()):
            wait = min(wait, POLL_SECONDS)
        return max(0.0, wait)

    def expired(self) -> list[tuple[Any, int]]:
        """(ref, tries so far) of tasks past their deadline; they are forgotten here."""
        now = time.monotonic()
        late = [(ref, e[1]) for ref, e in self._due.items() if self._deadline(e) <= now]
        for ref, _ in late:
            del self._due[ref]
        return late
