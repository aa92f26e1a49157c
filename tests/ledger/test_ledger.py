"""Ledger constraints and migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from sync_workers.errors import PermanentError
from sync_workers.ledger import (
    CursorStore,
    Status,
    SyncAttempt,
    SyncRecord,
    claim_record,
    claimed_record,
    find_by_source,
    find_by_target,
    make_engine,
    mark_synced,
    migrate,
    record_attempt,
    session_scope,
)

FLOW, DIRECTION = "orders", "xcart_to_acumatica"


@pytest.fixture
def engine(ledger_url):
    engine = make_engine(ledger_url)
    yield engine
    engine.dispose()


def test_claiming_a_record_twice_returns_the_same_row(engine) -> None:
    with session_scope(engine) as s:
        first = claim_record(s, FLOW, DIRECTION, "100001", trace_id="t1")
    with session_scope(engine) as s:
        second = claim_record(s, FLOW, DIRECTION, "100001", trace_id="t2")
    assert first.id == second.id
    assert second.trace_id == "t1"
    assert second.status == Status.PENDING


def test_concurrent_claims_create_one_row(engine) -> None:
    def claim(_: int) -> int:
        with session_scope(engine) as s:
            return claim_record(s, FLOW, DIRECTION, "race-1").id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(claim, range(24)))

    with session_scope(engine) as s:
        rows = s.scalars(select(SyncRecord).where(SyncRecord.source_id == "race-1")).all()
    assert len(rows) == 1
    assert ids == {rows[0].id}


def test_a_second_row_for_one_source_id_is_refused(engine) -> None:
    with session_scope(engine) as s:
        claim_record(s, FLOW, DIRECTION, "dup-1")
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(SyncRecord(flow=FLOW, direction=DIRECTION, source_id="dup-1", data={}))


def test_one_target_key_cannot_be_linked_to_two_source_records(engine) -> None:
    with session_scope(engine) as s:
        a = claim_record(s, FLOW, DIRECTION, "A")
        mark_synced(s, a, target_key="SO/SO000001", content_hash="h1")
    with (
        pytest.raises(PermanentError, match="already linked to source 'A'"),
        session_scope(engine) as s,
    ):
        b = claim_record(s, FLOW, DIRECTION, "B")
        mark_synced(s, b, target_key="SO/SO000001")
    with session_scope(engine) as s:
        linked = find_by_target(s, FLOW, DIRECTION, "SO/SO000001")
        assert linked is not None and linked.source_id == "A"
        assert linked.status == Status.SYNCED and linked.synced_at is not None


def test_a_refused_link_names_the_other_source_and_leaves_nothing(engine) -> None:
    """The unique constraint decides (nothing is read first): the whole transaction rolls back,
    the claim's ``put_sent`` included, and the error names the source holding the key."""
    with session_scope(engine) as s:
        mark_synced(s, claim_record(s, FLOW, DIRECTION, "A"), target_key="SO/SO000009")
        claim_record(s, FLOW, DIRECTION, "B")
    with (
        pytest.raises(PermanentError, match="already linked to source 'A'") as refused,
        session_scope(engine) as s,
    ):
        b = claimed_record(s, FLOW, DIRECTION, "B")
        b.data = {"put_sent": True}
        mark_synced(s, b, target_key="SO/SO000009")
    assert refused.value.details == {"source_id": "B", "target_key": "SO/SO000009"}
    assert isinstance(refused.value.__cause__, IntegrityError)
    with session_scope(engine) as s:
        b = find_by_source(s, FLOW, DIRECTION, "B")
        assert b is not None and b.target_key is None and b.data == {}
        assert b.status == Status.PENDING


def test_a_link_reads_nothing_before_it_writes(engine) -> None:
    """Linking a claimed record costs one statement: the UPDATE."""
    from sqlalchemy import event

    with session_scope(engine) as s:
        claim_record(s, FLOW, DIRECTION, "D")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement.split()[0].upper())

    with session_scope(engine) as s:
        record = claimed_record(s, FLOW, DIRECTION, "D")
        event.listen(engine, "before_cursor_execute", seen)
        try:
            mark_synced(s, record, target_key="SO/SO000010")
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["UPDATE"]


def test_claimed_record_reads_the_row_and_claims_it_only_when_missing(engine) -> None:
    with session_scope(engine) as s:
        first = claim_record(s, FLOW, DIRECTION, "C", trace_id="t-1")
    with session_scope(engine) as s:
        again = claimed_record(s, FLOW, DIRECTION, "C")
        assert again.id == first.id and again.trace_id == "t-1"
        restored = claimed_record(s, FLOW, DIRECTION, "D")  # e.g. a ledger restored meanwhile
        assert restored.id is not None and restored.status == Status.PENDING


def test_same_source_id_may_exist_in_other_flows_and_directions(engine) -> None:
    with session_scope(engine) as s:
        ids = {
            claim_record(s, "orders", DIRECTION, "7").id,
            claim_record(s, "customers", DIRECTION, "7").id,
            claim_record(s, "customers", "acumatica_to_xcart", "7").id,
        }
    assert len(ids) == 3


def test_attempts_are_counted_and_kept_in_order(engine) -> None:
    with session_scope(engine) as s:
        record = claim_record(s, FLOW, DIRECTION, "att-1", trace_id="trace-9")
        record_attempt(s, record, step="push", outcome="retry", error="503", task_id="x")
        record_attempt(s, record, step="push", outcome="success", task_id="x")
    with session_scope(engine) as s:
        record = claim_record(s, FLOW, DIRECTION, "att-1")
        history = s.scalars(select(SyncAttempt).where(SyncAttempt.record_id == record.id)).all()
        assert record.attempts == 2
        assert [(h.outcome, h.error) for h in history] == [("retry", "503"), ("success", None)]
        assert {h.trace_id for h in history} == {"trace-9"}


def test_cursors_are_upserted_per_flow_and_direction(engine) -> None:
    store = CursorStore(engine)
    assert store.get(FLOW, DIRECTION) is None
    store.set(FLOW, DIRECTION, "2026-11-27T05:00:00+00:00")
    store.set(FLOW, DIRECTION, "2026-11-27T06:00:00+00:00")
    store.set("inventory", "acumatica_to_xcart", "x")
    assert store.get(FLOW, DIRECTION) == "2026-11-27T06:00:00+00:00"
    assert store.get("inventory", "acumatica_to_xcart") == "x"


def test_migrations_upgrade_from_empty_and_downgrade_to_nothing(ledger_url) -> None:
    engine = make_engine(ledger_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"sync_records", "sync_attempts", "cursors"} <= tables

        migrate.downgrade(ledger_url, "base")
        engine.dispose()
        assert migrate.current_revision(engine) is None
        assert not {"sync_records", "sync_attempts", "cursors"} & set(
            inspect(engine).get_table_names()
        )

        migrate.upgrade(ledger_url)
        assert migrate.is_up_to_date(ledger_url)
    finally:
        engine.dispose()


def test_the_migrations_build_the_schema_the_models_describe(engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sync_workers.ledger.models import Base

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrading_to_the_followup_flag_keeps_which_orders_were_found_done(ledger_url) -> None:
    """0002 turns the payments-checked mark in an order's data into the indexed flag, and back."""
    import sqlalchemy as sa

    migrate.downgrade(ledger_url, "0001")
    engine = make_engine(ledger_url)
    try:
        table = sa.Table("sync_records", sa.MetaData(), autoload_with=engine)
        now = datetime.now(UTC)
        rows = [  # (flow, source id, target key, content hash, data)
            ("orders", "1", "SO/1", "h1", {"payments_checked_hash": "h1", "order_number": "1"}),
            ("orders", "2", "SO/2", "h2", {"payments_checked_hash": "h-before-an-edit"}),
            ("orders", "3", "SO/3", "h3", {"order_number": "3"}),
            ("orders", "4", None, "h4", {}),  # not linked: its payments wait for it
            ("payments", "1", "PMT/1", "h1", {"payments_checked_hash": "h1"}),
        ]
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {
                        "flow": flow,
                        "direction": DIRECTION,
                        "source_id": source_id,
                        "target_key": target_key,
                        "content_hash": content_hash,
                        "status": "synced" if target_key else "pending",
                        "attempts": 0,
                        "data": data,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for flow, source_id, target_key, content_hash, data in rows
                ],
            )
        engine.dispose()

        migrate.upgrade(ledger_url)
        with session_scope(engine) as session:
            after = {
                (r.flow, r.source_id): (r.followup_due, r.data)
                for r in session.scalars(select(SyncRecord))
            }
        assert after == {
            ("orders", "1"): (False, {"order_number": "1"}),  # found done at its current content
            ("orders", "2"): (True, {}),  # edited since: due again
            ("orders", "3"): (True, {"order_number": "3"}),  # never found done
            ("orders", "4"): (False, {}),
            ("payments", "1"): (False, {"payments_checked_hash": "h1"}),  # not an order: as it was
        }
        engine.dispose()

        migrate.downgrade(ledger_url, "0001")
        with engine.connect() as conn:
            back = {
                (r.flow, r.source_id): r.data
                for r in conn.execute(sa.select(table.c.flow, table.c.source_id, table.c.data))
            }
        assert back == {
            ("orders", "1"): {"payments_checked_hash": "h1", "order_number": "1"},
            ("orders", "2"): {},  # due: no mark (the stale one meant the same)
            ("orders", "3"): {"order_number": "3"},
            ("orders", "4"): {},
            ("payments", "1"): {"payments_checked_hash": "h1"},
        }
    finally:
        engine.dispose()
        migrate.upgrade(ledger_url)
