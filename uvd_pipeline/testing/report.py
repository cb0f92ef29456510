"""The result of a conformance run: one line per check, passed, failed or skipped, with the reason."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

PASS, FAIL, SKIP = "pass", "fail", "skip"
MARKS = {PASS: "✓", FAIL: "✗", SKIP: "-"}


class Skip(Exception):
    """Raised inside a check that cannot run for this plugin; the reason is reported."""


@dataclass
class CheckResult:
    name: str
    status: str
    message: str = ""


@dataclass
class ConformanceReport:
    kind: str
    plugin: str
    results: list[CheckResult] = field(default_factory=list)

    def run(self, name: str, check: Callable[[], str | None]) -> bool:
        """Run one check; an AssertionError fails it, any other exception fails it with its type."""
        try:
            note = check()
        except Skip as exc:
            self.results.append(CheckResult(name, SKIP, str(exc)))
            return False
        except AssertionError as exc:
            self.results.append(CheckResult(name, FAIL, str(exc) or "assertion failed"))
            return False
        except Exception as exc:  # a crash inside the plugin is a finding, not a crash of the suite
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.results.append(
                CheckResult(name, FAIL, f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})")
            )
            return False
        self.results.append(CheckResult(name, PASS, note or ""))
        return True

    def fail(self, name: str, message: str) -> None:
        self.results.append(CheckResult(name, FAIL, message))

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures and any(r.status == PASS for r in self.results)

    @property
    def skipped(self) -> bool:
        """Nothing could run here (e.g. the plugin's optional dependency is not installed)."""
        return bool(self.results) and all(r.status == SKIP for r in self.results)

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "skipped" if self.skipped else "FAILED"

    def format(self) -> str:
        head = f"conformance of {self.kind} plugin {self.plugin!r}: "
        counts = {status: sum(r.status == status for r in self.results) for status in (PASS, FAIL, SKIP)}
        head += self.verdict
        head += f" ({counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped)"
        lines = [head]
        for r in self.results:
            msg = r.message.replace("\n", "\n      ")
            lines.append(f"  {MARKS[r.status]} {r.name}" + (f": {msg}" if msg else ""))
        return "\n".join(lines)

    def raise_for_failures(self) -> ConformanceReport:
        """Raise AssertionError with the report unless it passed (a wholly skipped run raises too:
        in a plugin's own test suite, use pytest.importorskip for optional dependencies)."""
        if not self.passed:
            raise AssertionError(self.format())
        return self
