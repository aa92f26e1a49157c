"""Shapes shared by every flow: planned changes for dry runs and drift for reconcile; the base
task of the flows' steps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypeVar

from sync_workers.cursor import PollCursor
from sync_workers.dlq import DeadLetter
from sync_workers.ledger import CursorStore, Status, claim_record, mark_status, session_scope
from sync_workers.task import SyncTask

log = logging.getLogger(__name__)

Action = Literal["create", "update", "skip", "cancel", "error"]
T = TypeVar("T")


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

    ``kind``: ``missing_in_target`` (source record never synced), ``target_gone`` (the
    ledger links to a target record that no longer exists), ``stale`` (the ledger's hash is
    older than the source), ``mismatch`` (field values differ).
    """

    flow: str
    direction: str
    source_id: str | None
    target_key: str | None
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LedgerTask(SyncTask):
    """A flow task whose dead letters also mark the record's ledger row as dead-lettered.

    The row is ``(flow, ledger_direction, ledger_prefix + record id)``; a row already linked to
    its target keeps its status unless the failure was permanent.

    One task may run several steps of its flow (:meth:`run_step`): its dead letter names the
    step that was running, not the task.
    """

    abstract = True
    ledger_direction: str = "xcart_to_acumatica"
    #: Prefix of the ledger source id before the task's record id (``profile:`` for profiles).
    ledger_prefix: str = ""

    @property
    def step(self) -> str:
        running = getattr(self.request, "flow_step", None)
        return str(running) if running else super().step

    def run_step(self, name: str, function: Callable[..., T], *args: Any) -> T:
        """Call one step of the flow as part of this task; a failure is recorded as ``name``'s."""
        for request in self._requests():
            request.flow_step = name
        return function(*args)

    def drop_chain(self) -> None:
        """Forget the rest of a chain this message carries (queued by an older version that ran
        one task per step): the task itself continues with the steps that follow."""
        for request in self._requests():
            request.chain = None

    def _requests(self) -> list[Any]:
        """The request contexts of this run: the worker's, which outlives the call and is the
        one the failure handlers and the chain dispatch read, and the copy ``Task.__call__``
        pushes over it for the call."""
        return list(getattr(self.request_stack, "stack", None) or ()) or [self.request]

    def on_dead_letter(self, entry: DeadLetter) -> None:
        if not entry.record_id:
            return
        try:
            with session_scope() as session:
                source_id = f"{self.ledger_prefix}{entry.record_id}"
                record = claim_record(session, self.flow, self.ledger_direction, source_id)
                if record.target_key and entry.error_class != "PermanentError":
                    return
                mark_status(session, record, Status.DEAD_LETTERED, error=entry.error_message[:2000])
        except Exception:  # the dead letter itself is already safe in Redis
            log.exception("could not mark %s/%s dead-lettered", self.flow, entry.record_id)


def template_cursor(
    flow: str, direction: str, poll: Mapping[str, Any] | None, *, settle: float = 5.0
) -> PollCursor:
    """The poll cursor a flow template's ``poll`` section describes: ``overlap_seconds`` (300),
    ``settle_seconds`` (``settle``) and ``sweep_seconds`` (how often a poll re-reads the
    overlap; absent, every poll does)."""
    poll = poll or {}
    sweep = poll.get("sweep_seconds")
    return PollCursor(
        CursorStore(),
        flow,
        direction,
        overlap=timedelta(seconds=float(poll.get("overlap_seconds", 300))),
        settle=timedelta(seconds=float(poll.get("settle_seconds", settle))),
        sweep_every=None if sweep is None else timedelta(seconds=float(sweep)),
    )
