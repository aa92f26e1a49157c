"""What a preflight check says: pass, warn or fail, a one-line summary and what to do about it.

Structured so that the command line, ``--json`` and a console page render the same data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["pass", "warn", "fail"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "warn", "fail")


@dataclass(frozen=True)
class Result:
    """One check's verdict. ``check`` is its stable name (``access.acumatica.sign_in``),
    ``group`` one of access, reference, mapping, events, dry_run; ``advice`` says what to do
    (empty when nothing is to be done); ``details`` holds what a renderer may list (names,
    codes, field errors), never a secret or a customer's personal data."""

    check: str
    group: str
    outcome: Outcome
    summary: str
    advice: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]
    at: str

    @property
    def ok(self) -> bool:
        """Nothing failed (warnings allowed)."""
        return all(r.outcome != "fail" for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.outcome for r in self.results)
        return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}

    def of(self, check: str) -> Result:
        """The result of one check by name (``KeyError`` when it did not run)."""
        for result in self.results:
            if result.check == check:
                return result
        raise KeyError(check)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "ok": self.ok,
            "counts": self.counts,
            "checks": [r.as_dict() for r in self.results],
        }


class Skipped(Exception):
    """A check that cannot run because something it needs failed first (its system does not
    answer); reported as a warning naming that reason."""
