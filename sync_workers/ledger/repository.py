"""Ledger operations the tasks call. Each takes a session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_workers.errors import PermanentError
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import Cursor, Status, SyncRecord, utcnow


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert


def claim_record(
    session: Session, flow: str, direction: str, source_id: str, *, trace_id: str | None = None
) -> SyncRecord:
    """The record for a source id, created if missing. Safe when many workers race for it."""
    stmt = (
        _insert(session)(SyncRecord)
        .values(
            flow=flow,
            direction=direction,
            source_id=source_id,
            status=Status.PENDING.value,
            data={},
            trace_id=trace_id,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["flow", "direction", "source_id"])
    )
    session.execute(stmt)
    record = find_by_source(session, flow, direction, source_id)
    assert record is not None
    return record


def claim_records(
    session: Session, flow: str, direction: str, source_ids: list[str], *, reopen: bool = False
) -> None:
    """:func:`claim_record` for many source ids in one statement (nothing read back). With
    ``reopen``, a record that exists is made pending again (its last error cleared), as of now."""
    if not source_ids:
        return
    now = utcnow()
    rows = [
        {
            "flow": flow,
            "direction": direction,
            "source_id": source_id,
            "status": Status.PENDING.value,
            "data": {},
            "created_at": now,
            "updated_at": now,
        }
        for source_id in source_ids
    ]
    insert = _insert(session)(SyncRecord.__table__)
    keys = ["flow", "direction", "source_id"]
    statement = (
        insert.on_conflict_do_update(
            index_elements=keys,
            set_={
                "status": insert.excluded.status,
                "last_error": None,
                "updated_at": insert.excluded.updated_at,
            },
        )
        if reopen
        else insert.on_conflict_do_nothing(index_elements=keys)
    )
    session.connection().execute(statement, rows)


#: The two look-ups every task makes, built once: building a ``select`` per call (coercing each
#: clause) took about a quarter of a look-up's time on SQLite (1,265 → 920 µs per look-up in a
#: loop of 3,000, on a busy machine).
_BY_SOURCE = select(SyncRecord).where(
    SyncRecord.flow == bindparam("flow"),
    SyncRecord.direction == bindparam("direction"),
    SyncRecord.source_id == bindparam("key"),
)
_BY_TARGET = select(SyncRecord).where(
    SyncRecord.flow == bindparam("flow"),
    SyncRecord.direction == bindparam("direction"),
    SyncRecord.target_key == bindparam("key"),
)


def find_by_source(
    session: Session, flow: str, direction: str, source_id: str
) -> SyncRecord | None:
    params = {"flow": flow, "direction": direction, "key": source_id}
    return session.scalars(_BY_SOURCE, params).one_or_none()


def find_by_target(
    session: Session, flow: str, direction: str, target_key: str
) -> SyncRecord | None:
    params = {"flow": flow, "direction": direction, "key": target_key}
    return session.scalars(_BY_TARGET, params).one_or_none()


#: The record's table, for the Core statements of the hot path: an ORM object costs its
#: identity map, its unit of work and its attribute events on every statement (a claim and a
#: link took 1,245 µs of CPU through the ORM and 483 µs as Core statements, SQLite, 1,500 of each).
_TABLE: Table = SyncRecord.__table__  # type: ignore[assignment]
_PEEK = select(_TABLE).where(
    _TABLE.c.flow == bindparam("flow"),
    _TABLE.c.direction == bindparam("direction"),
    _TABLE.c.source_id == bindparam("key"),
)
_MARK_PUT_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("record_id"))
    .values(data=bindparam("data"), updated_at=bindparam("now"))
)


def peek_by_source(session: Session, flow: str, direction: str, source_id: str) -> Row[Any] | None:
    """The record as a read-only row (its columns as attributes), in one Core statement: for
    reads that change nothing, where :func:`find_by_source`'s ORM object is only overhead."""
    params = {"flow": flow, "direction": direction, "key": source_id}
    return session.connection().execute(_PEEK, params).one_or_none()


def linked_sources(session: Session, flow: str, direction: str, source_ids: list[str]) -> set[str]:
    """The records among ``source_ids`` the ledger links to a target.

    The link is tested here, not in SQL: with ``target_key IS NOT NULL`` in the query, SQLite
    ranges over every linked record by the target-key index (a resync batch got slower with
    every order synced before it, 96 of a worker's 2,086 samples at 85,000 orders)."""
    rows = session.query(SyncRecord.source_id, SyncRecord.target_key).filter(
        SyncRecord.flow == flow,
        SyncRecord.direction == direction,
        SyncRecord.source_id.in_(source_ids),
    )
    return {source_id for source_id, target_key in rows if target_key}


@dataclass(frozen=True)
class Claim:
    """A record claimed before its target is created (see :func:`claim_for_create`)."""

    flow: str
    direction: str
    source_id: str
    record_id: int
    #: The target the record is already linked to (nothing to create then).
    target_key: str | None
    #: An earlier attempt marked the record before sending its create: the target may exist,
    #: so it is looked up before anything is created.
    put_sent: bool
    #: The record's data as it is now (``put_sent`` included): what a link adds to.
    data: dict[str, Any]


def claim_for_create(
    session: Session, flow: str, direction: str, source_id: str, *, trace_id: str | None = None
) -> Claim:
    """Claim a record before creating its target, with the record's lock held.

    A linked record is returned as it is. Otherwise the record is marked ``put_sent`` (the
    caller commits before the create goes out), and :attr:`Claim.put_sent` tells whether an
    earlier attempt had marked it already. The record is created if missing, safely when
    workers race for it. Two statements: a read, then the mark (or the insert of a new record,
    marked); none of them through the ORM.
    """
    connection = session.connection()
    params = {"flow": flow, "direction": direction, "key": source_id}
    row = connection.execute(_PEEK, params).one_or_none()
    if row is None:
        marked = {"put_sent": True}
        now = utcnow()
        inserted = connection.execute(
            _insert(session)(_TABLE)
            .values(
                flow=flow,
                direction=direction,
                source_id=source_id,
                status=Status.PENDING.value,
                data=marked,
                trace_id=trace_id,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["flow", "direction", "source_id"])
            .returning(_TABLE.c.id)
        ).scalar_one_or_none()
        if inserted is not None:
            return Claim(flow, direction, source_id, inserted, None, False, marked)
        row = connection.execute(_PEEK, params).one()  # another worker created it first
    data = dict(row.data or {})
    put_sent = bool(data.get("put_sent"))
    if not row.target_key and not put_sent:
        data["put_sent"] = True
        connection.execute(_MARK_PUT_SENT, {"record_id": row.id, "data": data, "now": utcnow()})
    return Claim(flow, direction, source_id, row.id, row.target_key, put_sent, data)


def link_claimed(
    session: Session,
    claim: Claim,
    *,
    target_key: str,
    content_hash: str | None = None,
    data: dict[str, Any] | None = None,
    source_updated_at: datetime | None = None,
    followup_due: bool | None = None,
) -> None:
    """:func:`mark_synced` for a record claimed by :func:`claim_for_create` under the lock the
    caller still holds: one UPDATE, its data being the claim's plus ``data``. A record gone
    meanwhile (a ledger restored) is claimed again and linked."""
    now = utcnow()
    merged = {**claim.data, **(data or {})}
    values: dict[str, Any] = {
        "target_key": target_key,
        "status": Status.SYNCED.value,
        "last_error": None,
        "synced_at": now,
        "updated_at": now,
        "data": merged,
    }
    if content_hash is not None:
        values["content_hash"] = content_hash
    if source_updated_at is not None:
        values["source_updated_at"] = source_updated_at
    if followup_due is not None:
        values["followup_due"] = followup_due
    statement = update(_TABLE).where(_TABLE.c.id == claim.record_id).values(**values)
    try:
        updated = session.connection().execute(statement).rowcount
    except IntegrityError as exc:
        other = _linked_source(session, claim.flow, claim.direction, target_key)
        raise _already_linked(claim.flow, claim.source_id, target_key, other) from exc
    if updated == 0:
        record = claim_record(session, claim.flow, claim.direction, claim.source_id)
        if followup_due is not None:
            record.followup_due = followup_due
        mark_synced(
            session,
            record,
            target_key=target_key,
            content_hash=content_hash,
            data=merged,
            source_updated_at=source_updated_at,
        )


def mark_synced(
    session: Session,
    record: SyncRecord,
    *,
    target_key: str,
    content_hash: str | None = None,
    data: dict[str, Any] | None = None,
    source_updated_at: datetime | None = None,
) -> SyncRecord:
    """Link the record to its target and mark it synced.

    A target key already linked to another source record is a permanent error: two source records
    would otherwise share one target. The unique constraint on the target key decides (no read
    first: that was one statement more on every link, to refuse what the constraint refuses);
    the error names the other source, read afterwards on a connection of its own. The caller's
    transaction is spoilt then and rolls back on the error.
    """
    record.target_key = target_key
    record.status = Status.SYNCED.value
    record.last_error = None
    record.synced_at = utcnow()
    if content_hash is not None:
        record.content_hash = content_hash
    if source_updated_at is not None:
        record.source_updated_at = source_updated_at
    if data:
        record.data = {**(record.data or {}), **data}
    flow, direction, source_id = record.flow, record.direction, record.source_id
    try:
        session.flush()
    except IntegrityError as exc:
        raise _already_linked(
            flow, source_id, target_key, _linked_source(session, flow, direction, target_key)
        ) from exc
    return record


def _linked_source(session: Session, flow: str, direction: str, target_key: str) -> str:
    """The source id holding ``target_key`` (``"?"`` when it cannot be read), read outside
    ``session``, whose failed flush left its transaction unusable."""
    bind = session.get_bind()
    try:
        with session_scope(bind if isinstance(bind, Engine) else bind.engine) as other:
            record = find_by_target(other, flow, direction, target_key)
            return record.source_id if record is not None else "?"
    except Exception:  # the message only loses its detail
        return "?"


def _already_linked(
    flow: str, source_id: str, target_key: str, other_source: str
) -> PermanentError:
    return PermanentError(
        f"{flow}: target {target_key!r} is already linked to source {other_source!r}",
        details={"source_id": source_id, "target_key": target_key},
    )


def mark_status(
    session: Session, record: SyncRecord, status: Status, *, error: str | None = None
) -> SyncRecord:
    record.status = status.value
    if error is not None:
        record.last_error = error
    session.flush()
    return record


#: Statuses of a record still on its way; a record stuck in one of them has lost its message.
UNFINISHED = (Status.PENDING.value,)


def restart_stalled(
    session: Session, flow: str, direction: str, *, older_than: datetime, limit: int = 100
) -> list[str]:
    """Source ids of unfinished records untouched since ``older_than``, oldest first; each is
    touched (``data.restarted_at``), so it is handed out once per stall period."""
    rows = session.scalars(
        select(SyncRecord)
        .where(
            SyncRecord.flow == flow,
            SyncRecord.direction == direction,
            SyncRecord.status.in_(UNFINISHED),
            SyncRecord.updated_at < older_than,
        )
        .order_by(SyncRecord.updated_at)
        .limit(limit)
    ).all()
    now = utcnow()
    for row in rows:
        row.data = {**(row.data or {}), "restarted_at": now.isoformat()}
        row.updated_at = now
    session.flush()
    return [row.source_id for row in rows]


class CursorStore:
    """Cursors per (flow, direction) in the ledger; the storage the connectors' cursors use."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine

    def get(self, flow: str, direction: str) -> str | None:
        with session_scope(self._engine) as session:
            row = session.get(Cursor, (flow, direction))
            return row.value if row else None

    def set(self, flow: str, direction: str, value: str) -> None:
        with session_scope(self._engine) as session:
            stmt = _insert(session)(Cursor).values(
                flow=flow, direction=direction, value=value, updated_at=utcnow()
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["flow", "direction"],
                set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
            )
            session.execute(stmt)

    def update(self, flow: str, direction: str, change: Callable[[str | None], str]) -> str:
        """Store ``change(current value)`` and return it, in one transaction that holds the
        cursor's row (PostgreSQL) or the database's write lock (SQLite) from the read to the
        write: a concurrent update waits, then reads what this one stored."""
        with session_scope(self._engine) as session:
            if session.get_bind().dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            else:  # the row to lock, made (and seen by a waiting update) only if this commits
                session.execute(
                    _insert(session)(Cursor)
                    .values(flow=flow, direction=direction, value=None, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["flow", "direction"])
                )
            current = session.scalar(
                select(Cursor.value)
                .where(Cursor.flow == flow, Cursor.direction == direction)
                .with_for_update()
            )
            value = change(current)
            stmt = _insert(session)(Cursor).values(
                flow=flow, direction=direction, value=value, updated_at=utcnow()
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["flow", "direction"],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )
            return value
