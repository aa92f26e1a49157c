"""What the child processes of the interleaving tests run: each opens its own connections (a
ledger engine, a Redis client), as a worker process does, and signals the parent through
``multiprocessing`` events so the parent can hold one run between its read and its write."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

FLOW, DIRECTION = "orders", "xcart_to_acumatica"
T0 = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
#: Long enough that no key handled in a test leaves the cursor: every lost key is a lost update.
OVERLAP = timedelta(days=1)
HOLD_SECONDS = 60


class HeldStore:
    """A ledger cursor store whose update stops between its read and its write until ``go``."""

    def __init__(self, store: Any, inside: Any, go: Any) -> None:
        self.store, self.inside, self.go = store, inside, go

    def get(self, flow: str, direction: str) -> str | None:
        value: str | None = self.store.get(flow, direction)
        return value

    def update(self, flow: str, direction: str, change: Callable[[str | None], str]) -> str:
        def held(current: str | None) -> str:
            value = change(current)
            self.inside.set()
            if not self.go.wait(HOLD_SECONDS):
                raise TimeoutError("the parent never let the held save go on")
            return value

        result: str = self.store.update(flow, direction, held)
        return result


class WatchedStore:
    """A ledger cursor store that notes, in ``overlapped``, a read-to-write made while another
    process's save was held (``held`` set, ``go`` not)."""

    def __init__(self, store: Any, held: Any, go: Any, overlapped: Any) -> None:
        self.store, self.held, self.go, self.overlapped = store, held, go, overlapped

    def get(self, flow: str, direction: str) -> str | None:
        value: str | None = self.store.get(flow, direction)
        return value

    def update(self, flow: str, direction: str, change: Callable[[str | None], str]) -> str:
        def watched(current: str | None) -> str:
            if self.held.is_set() and not self.go.is_set():
                self.overlapped.set()
            return change(current)

        result: str = self.store.update(flow, direction, watched)
        return result


def _cursor(store: Any, at: datetime) -> Any:
    from sync_workers.cursor import PollCursor

    return PollCursor(
        store,
        FLOW,
        DIRECTION,
        overlap=OVERLAP,
        settle=timedelta(0),
        start_at=T0 - timedelta(hours=1),
        clock=lambda: at,
    )


def _handle(cursor: Any, keys: list[str], at: datetime) -> None:
    for key in keys:
        assert cursor.accept(key, "v1", at - timedelta(seconds=1)), key
    cursor.commit()


def held_save(url: str, keys: list[str], at_seconds: int, inside: Any, go: Any) -> None:
    """One poll run that handles ``keys`` and saves, stopping between read and write."""
    from sync_workers.ledger import CursorStore
    from sync_workers.ledger.db import make_engine

    engine = make_engine(url)
    try:
        at = T0 + timedelta(seconds=at_seconds)
        _handle(_cursor(HeldStore(CursorStore(engine), inside, go), at), keys, at)
    finally:
        engine.dispose()


def racing_save(
    url: str,
    keys: list[str],
    at_seconds: int,
    held: Any,
    go: Any,
    loaded: Any,
    overlapped: Any,
) -> None:
    """A poll run that loads the cursor while another run's save is held, then saves."""
    from sync_workers.ledger import CursorStore
    from sync_workers.ledger.db import make_engine

    engine = make_engine(url)
    try:
        at = T0 + timedelta(seconds=at_seconds)
        cursor = _cursor(WatchedStore(CursorStore(engine), held, go, overlapped), at)
        loaded.set()
        _handle(cursor, keys, at)
    finally:
        engine.dispose()


def many_saves(url: str, name: str, runs: int, barrier: Any) -> None:
    """``runs`` poll runs one after another, each handling one key of its own and saving."""
    from sync_workers.ledger import CursorStore
    from sync_workers.ledger.db import make_engine

    engine = make_engine(url)
    store = CursorStore(engine)
    try:
        barrier.wait(HOLD_SECONDS)
        for run in range(runs):
            at = T0 + timedelta(seconds=run)
            _handle(_cursor(store, at), [f"{name}-{run}"], at)
    finally:
        engine.dispose()


def stored_keys(url: str) -> tuple[str, set[str]]:
    """The stored cursor's position and handled record ids."""
    from sync_workers.ledger import CursorStore
    from sync_workers.ledger.db import make_engine

    engine = make_engine(url)
    try:
        state = json.loads(CursorStore(engine).get(FLOW, DIRECTION) or "{}")
    finally:
        engine.dispose()
    return state["position"], {key.split("\x1f")[0] for key in state["seen"]}


# -- dead-letter replays ------------------------------------------------------------------------


def held_replay(entry_id: str, inside: Any, go: Any, results: Any) -> None:
    """Replay ``entry_id`` with the engine's publisher, stopping just before it publishes."""
    from sync_workers.celery import publish

    def held_publish(*args: Any, **kwargs: Any) -> str:
        inside.set()
        if not go.wait(HOLD_SECONDS):
            raise TimeoutError("the parent never let the held replay go on")
        return publish(*args, **kwargs)

    results.put(_replay(entry_id, held_publish))


def replay(entry_id: str, results: Any) -> None:
    """Replay ``entry_id`` with the engine's publisher."""
    from sync_workers.celery import publish

    results.put(_replay(entry_id, publish))


def many_replays(entry_ids: list[str], barrier: Any, results: Any, force: bool) -> None:
    """Replay every entry of ``entry_ids``, one after another, starting with the other process."""
    from sync_workers.celery import publish

    barrier.wait(HOLD_SECONDS)
    outcomes = [_replay(entry_id, publish, force=force) for entry_id in entry_ids]
    results.put(outcomes)


def _replay(entry_id: str, publish: Any, *, force: bool = False) -> dict[str, str]:
    from sync_workers.dlq import EntryStateError
    from sync_workers.task import get_dlq

    try:
        task_id = get_dlq().replay(
            entry_id, publish, by=f"process-{threading.get_native_id()}", force=force
        )
    except EntryStateError as exc:
        return {"entry": entry_id, "refused": str(exc)}
    return {"entry": entry_id, "task_id": task_id}
