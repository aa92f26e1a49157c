"""The one shape of every entity sync: a :class:`Flow` declares its parts, the runner does the rest.

A flow (orders, payments, customers, shipments, products, inventory) declares

* its **name**, main **direction** and mapping **template**;
* its **chains**: for each kind of record it syncs, the named, idempotent **steps** one task runs
  in order for one record (``tasks.<flow>.<chain>``, see :mod:`sync_workers.flows.runner`);
* its **poll**: which records changed (through its **cursors**, kept in the ledger), handed out
  as :class:`Start` s;
* its realtime triggers (**on_push** for Acumatica push notifications, **on_webhook** for the
  X-Cart store module), which also only name records to start;
* **plan** (what a resync would do, for ``--dry-run``) and **drift** (what differs, for
  ``reconcile``).

A step takes the chain's state (a dict that starts as ``{"record_id": ..., **hints}``) and
returns it, changed. Steps never retry, sleep or catch transient errors: they raise
``TransientError`` / ``PermanentError`` and the runner's base task decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

from sync_workers.cursor import PollCursor
from sync_workers.ledger import CursorStore
from sync_workers.mapping.templates import load_template

State = dict[str, Any]
Action = Literal["create", "update", "skip", "cancel", "error"]


@dataclass(frozen=True)
class Step:
    """One named, idempotent step of a chain."""

    name: str
    run: Callable[[State], State]


@dataclass(frozen=True)
class Chain:
    """What one task does for one record: its steps, in order.

    ``direction`` and ``ledger_prefix`` place the record in the ledger (source id = prefix +
    record id): its dead letters mark that row, its runs are kept under it. ``tracked``: the
    record's ledger row is claimed before its task is published, so a poll can tell a task on
    its way from a lost one (``STALL_SECONDS``); with ``reopen``, a row that exists is made
    pending again by each hand-out (its chain ends by finishing it). ``hold``: ``(step name, context)``: the
    context (locks taken in one round trip) is entered with the state as it reaches that step
    and held until the chain ends.
    """

    name: str
    direction: str
    steps: tuple[Step, ...]
    ledger_prefix: str = ""
    tracked: bool = False
    reopen: bool = False
    hold: tuple[str, Callable[[State], AbstractContextManager[Any]]] | None = None

    def source_id(self, record_id: str) -> str:
        return f"{self.ledger_prefix}{record_id}"


@dataclass(frozen=True)
class Start:
    """A record to run a chain for: what polls, pushes and webhooks hand out.

    ``hints``: small JSON a trigger already has (the record as just read, a batched look-up),
    passed to the chain's first step to spare a read; never needed for correctness.
    """

    chain: str
    record_id: str
    hints: Mapping[str, Any] = field(default_factory=dict)
    countdown: float | None = None
    #: Another flow's chain (an order's poll restarting a payment), else the handing flow's.
    flow: str | None = None


@dataclass(frozen=True)
class PollRequest:
    """A poll: the scheduled cursor poll (nothing set), or a resync (``since``, ``ids``, ``all``)."""

    since: str | None = None
    ids: tuple[str, ...] | None = None
    all: bool = False
    #: The orders poll's follow-up booking (see ``sync_workers.flows.orders.changes``).
    follow_up: str | None = None

    @property
    def is_cursor_poll(self) -> bool:
        return self.since is None and not self.all and not self.ids


class HandOut(Protocol):
    """Publishes starts (the runner's :func:`~sync_workers.flows.runner.hand_out`)."""

    def __call__(self, starts: Iterable[Start]) -> list[str]: ...


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

    ``kind``: ``missing_in_target`` (source record never synced), ``target_gone`` (the ledger
    links to a target record that no longer exists), ``stale`` (the ledger's hash is older than
    the source), ``mismatch`` (field values differ).
    """

    flow: str
    direction: str
    source_id: str | None
    target_key: str | None
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Flow:
    """Everything the engine needs to know about one entity sync."""

    name: str
    direction: str
    template: str
    chains: tuple[Chain, ...]
    poll: Callable[[PollRequest, HandOut], dict[str, Any]]
    plan: Callable[..., list[PlannedChange]]
    drift: Callable[..., list[Drift]]
    #: The directions whose poll cursor this flow keeps (shown by ``sync-status``).
    cursors: tuple[str, ...] = ()
    on_push: Callable[[Mapping[str, Any]], list[Start]] | None = None
    on_webhook: Callable[[str, Mapping[str, Any]], list[Start]] | None = None
    #: Run by ``reconcile --repair`` with the drifted source ids before their resync is
    #: published (e.g. so that records unchanged at the source are written again).
    before_repair: Callable[[list[str]], None] | None = None

    def chain(self, name: str) -> Chain:
        for chain in self.chains:
            if chain.name == name:
                return chain
        raise KeyError(f"the {self.name} flow has no chain {name!r}")

    def settings(self) -> dict[str, Any]:
        return load_template(self.template)

    def cursor(self, direction: str, *, settle: float = 5.0) -> PollCursor:
        """The poll cursor of ``direction``, as the template's ``poll`` section describes it:
        ``overlap_seconds`` (300), ``settle_seconds`` (``settle``) and ``sweep_seconds`` (how
        often a poll re-reads the overlap; absent, every poll does)."""
        return template_cursor(self.name, direction, self.settings().get("poll"), settle=settle)


def template_cursor(
    flow: str, direction: str, poll: Mapping[str, Any] | None, *, settle: float = 5.0
) -> PollCursor:
    """A poll cursor from a template's ``poll`` section (see :meth:`Flow.cursor`)."""
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


def mismatch_details(
    changes: Iterable[FieldChange], *, repairable: bool = True, reason: str = "", **extra: Any
) -> dict[str, Any]:
    """The ``details`` of a ``mismatch`` :class:`Drift`: ``fields`` (each differing field as
    ``{"field", "current", "proposed"}``: the target's value and what a resync would write),
    ``repairable`` (whether a resync fixes it; else ``reason`` says what a person must do) and
    anything else the flow adds."""
    details: dict[str, Any] = {
        "fields": [asdict(change) for change in changes],
        "repairable": repairable,
        **extra,
    }
    if reason:
        details["reason"] = reason
    return details
