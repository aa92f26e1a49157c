"""Poll cursors that lose nothing.

One poll reads the window ``[position - overlap, now - settle]`` (both ends inclusive, in UTC):

* ``settle`` leaves out the last seconds, where a record can still commit late or the other
  system's clock can run a little ahead;
* ``overlap`` re-reads the end of the previous window, so records that became visible late are
  caught; the records already handled there are dropped by their ``(id, version)`` key, where
  the version is the update time (any offset, normalised to UTC) or a content hash.

With ``sweep_every``, only some polls re-read the overlap (the sweeps); the others read from
the position on, so a poll with nothing new costs one page however busy the last minutes were.
A sweep is due once the window's end is ``sweep_every`` past the end of the last sweep, and it
re-reads from that end minus ``overlap``, so the last sweep to read an instant still runs more
than ``settle + overlap`` after it; the keys handled since the last sweep are kept until the
next one. Without ``sweep_every`` every poll is a sweep.

A record is guaranteed to be delivered once when it becomes visible at most
``settle + overlap`` after its update time; with ``sweep_every``, one that becomes visible
after its window has passed waits for the next sweep. The cursor moves only in :meth:`PollCursor.commit`
(after every record of the window is handled) or :meth:`PollCursor.checkpoint` (after every
record up to a time is handled, for sources read in ascending order).

Two runs of one poll may overlap (a poll and its follow-up, a poll redelivered after its worker
died, in two processes or on two hosts): each save reads what the other saved, merges and writes
in one atomic step of the storage (:meth:`CursorStorage.update`), so neither the position nor
the last sweep moves back and the keys both handled are kept. Both runs can still hand out a
record they both read before either saved; the records' own ledger rows make that harmless.

State is one JSON string per ``(flow, direction)`` in a :class:`CursorStorage`; the ledger
provides the SQL one (a row lock on PostgreSQL, a write transaction on SQLite),
:class:`MemoryCursorStorage` serves tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sync_workers.dates import parse_datetime, to_utc_iso, utcnow

_SEP = "\x1f"


class CursorStorage(Protocol):
    def get(self, flow: str, direction: str) -> str | None: ...

    def update(self, flow: str, direction: str, change: Callable[[str | None], str]) -> str:
        """Store ``change(current value)`` and return it, atomically: a concurrent update of
        the same cursor waits until this one is stored, then reads what it stored."""
        ...


class MemoryCursorStorage:
    """Process-local :class:`CursorStorage` for tests and one-off runs."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, flow: str, direction: str) -> str | None:
        return self._values.get((flow, direction))

    def set(self, flow: str, direction: str, value: str) -> None:
        self._values[(flow, direction)] = value

    def update(self, flow: str, direction: str, change: Callable[[str | None], str]) -> str:
        with self._lock:
            value = self._values[(flow, direction)] = change(self._values.get((flow, direction)))
            return value


@dataclass(frozen=True)
class Window:
    """The time range one poll reads; ``start`` is ``None`` on the very first poll."""

    start: datetime | None
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and moment <= self.end


def record_key(record_id: object, version: object) -> str:
    """The dedupe key of one version of a record; datetimes are normalised to UTC."""
    if isinstance(version, datetime):
        version = to_utc_iso(version)
    return f"{record_id}{_SEP}{version}"


class PollCursor:
    """Window and dedupe logic for one run of one ``(flow, direction)`` poll.

    Create one per run: the window is fixed the first time it is asked for.
    """

    def __init__(
        self,
        storage: CursorStorage,
        flow: str,
        direction: str,
        *,
        overlap: timedelta = timedelta(minutes=5),
        settle: timedelta = timedelta(seconds=30),
        start_at: datetime | None = None,
        clock: Callable[[], datetime] = utcnow,
        sweep_every: timedelta | None = None,
    ) -> None:
        if overlap < timedelta(0) or settle < timedelta(0):
            raise ValueError("overlap and settle must not be negative")
        if sweep_every is not None and sweep_every < timedelta(0):
            raise ValueError("sweep_every must not be negative")
        self._storage = storage
        self.flow = flow
        self.direction = direction
        self.overlap = overlap
        self.settle = settle
        self.sweep_every = sweep_every
        self._clock = clock
        self._window: Window | None = None
        self._handled: dict[str, datetime] = {}
        #: Whether this run's window re-reads the overlap (fixed with the window).
        self.sweeping = True
        self.position, self._swept, self._seen = self._load(start_at)

    def _load(
        self, start_at: datetime | None
    ) -> tuple[datetime | None, datetime | None, dict[str, datetime]]:
        raw = self._storage.get(self.flow, self.direction)
        if not raw:
            return (parse_datetime(start_at) if start_at else None), None, {}
        return _parse(raw)

    def window(self) -> Window:
        if self._window is None:
            end = parse_datetime(self._clock()) - self.settle
            if self.position is not None:
                end = max(end, self.position)
            start: datetime | None = None
            self.sweeping = True
            if self.position is not None:
                start = self.position - self.overlap
                last, every = self._swept, self.sweep_every
                if last is not None and every is not None:
                    if end - last >= every:  # a sweep: from the last sweep's end, less the overlap
                        start = min(last, self.position) - self.overlap
                    else:
                        self.sweeping, start = False, self.position
            self._window = Window(start, end)
        return self._window

    def accept(self, record_id: object, version: object, updated_at: datetime | str) -> bool:
        """True when this version of the record is in the window and was not handled before.

        Call it for every record the source returns, in any order; handle the record only when
        it answers True. Records after the window end are left for the next poll.
        """
        moment = parse_datetime(updated_at)
        if moment not in self.window():
            return False
        key = record_key(record_id, version)
        if key in self._seen or key in self._handled:
            return False
        self._handled[key] = moment
        return True

    def checkpoint(self, upto: datetime | str) -> None:
        """Persist progress: every record of the window updated at or before ``upto`` is handled."""
        moment = min(parse_datetime(upto), self.window().end)
        if self.position is None or moment > self.position:
            self._save(moment)

    def commit(self) -> None:
        """Persist the end of the window: every record of the window is handled."""
        self._save(self.window().end)

    def _save(self, position: datetime) -> None:
        self.window()
        swept = position if self.sweeping or self._swept is None else self._swept
        # A checkpoint vouches only for the records up to it (accepted ones after it may not
        # have been handled yet: the next poll must still take them).
        handled = {key: moment for key, moment in self._handled.items() if moment <= position}
        merged: list[tuple[datetime, datetime, dict[str, datetime]]] = []

        def merge(raw: str | None) -> str:
            # Another run of this poll may have saved since this one loaded: keep its keys, and
            # never move back.
            stored_position, stored_swept, stored_seen = _parse(raw) if raw else (None, None, {})
            new_position = position if stored_position is None else max(position, stored_position)
            new_swept = swept if stored_swept is None else max(swept, stored_swept)
            # The next sweep re-reads from the last one's end minus the overlap: keep what it meets.
            keep_from = min(new_position, new_swept) - self.overlap
            seen = {**stored_seen, **self._seen, **handled}
            kept = {key: moment for key, moment in seen.items() if moment >= keep_from}
            merged[:] = [(new_position, new_swept, kept)]
            state = {
                "position": to_utc_iso(new_position),
                "swept": to_utc_iso(new_swept),
                "seen": {key: to_utc_iso(moment) for key, moment in sorted(kept.items())},
            }
            return json.dumps(state, sort_keys=True)

        self._storage.update(self.flow, self.direction, merge)
        self.position, self._swept, self._seen = merged[0]


def _parse(raw: str) -> tuple[datetime | None, datetime | None, dict[str, datetime]]:
    """Position, last sweep and handled keys of a stored cursor."""
    state = json.loads(raw)
    position = parse_datetime(state["position"]) if state.get("position") else None
    swept = parse_datetime(state["swept"]) if state.get("swept") else None
    seen = {key: parse_datetime(moment) for key, moment in state.get("seen", {}).items()}
    return position, swept, seen
