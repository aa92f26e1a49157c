"""Shapes shared by every flow: planned changes for dry runs and drift for reconcile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "skip", "cancel", "error"]


@dataclass(frozen=True)
class FieldChange:
    """One field that would change: its value in the target now and the value we would send."""

    field: str
    current: Any
    proposed: Any


@dataclass(frozen=True)
class PlannedChange:
    """What a resync would do to one record (``--dry-run``); computed without writing anywhere."""

    flow: str
    direction: str
    source_id: str
    action: Action
    target_key: str | None = None
    reason: str = ""
    changes: tuple[FieldChange, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Drift:
    """A difference between the two systems found by reconcile.

    ``kind``: ``missing_in_target`` (source record never synced), ``missing_in_source`` (the
    ledger links to a record that is gone), ``stale`` (the ledger's hash is older than the
    source), ``mismatch`` (field values differ).
    """

    flow: str
    direction: str
    source_id: str | None
    target_key: str | None
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
