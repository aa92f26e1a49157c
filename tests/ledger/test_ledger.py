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
    claim_for_create,
    claim_record,
    claim_records,
    find_by_source,
    find_by_target,
    link_claimed,
    make_engine,
    mark_synced,
    migrate,
    peek_by_source,
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
    """The unique constraint decides (nothing is read first): the link's transaction rolls
    back and the error names the source holding the key; the claim, committed before the
    create went out, stays."""
    with session_scope(engine) as s:
        mark_synced(s, claim_record(s, FLOW, DIRECTION, "A"), target_key="SO/SO000009")
        claim_record(s, FLOW, DIRECTION, "B")
    with session_scope(engine) as s:
        claim = claim_for_create(s, FLOW, DIRECTION, "B")
    with (
        pytest.raises(PermanentError, match="already linked to source 'A'") as refused,
        session_scope(engine) as s,
    ):
        link_claimed(s, claim, target_key="SO/SO000009", data={"status": "Open"})
    assert refused.value.details == {"source_id": "B", "target_key": "SO/SO000009"}
    assert isinstance(refused.value.__cause__, IntegrityError)
    with session_scope(engine) as s:
        b = find_by_source(s, FLOW, DIRECTION, "B")
        assert b is not None and b.target_key is None and b.data == {"put_sent": True}
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
        record = find_by_source(s, FLOW, DIRECTION, "D")
        assert record is not None
        event.listen(engine, "before_cursor_execute", seen)
        try:
            mark_synced(s, record, target_key="SO/SO000010")
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["UPDATE"]


def _statements(engine):
    """A context manager collecting the first word of each statement ``engine`` sends."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting():
        seen: list[str] = []

        def listener(conn, cursor, statement, *args) -> None:
            seen.append(statement.split()[0].upper())

        event.listen(engine, "before_cursor_execute", listener)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", listener)

    return counting()


def test_a_claim_for_create_marks_an_existing_record_and_says_if_an_earlier_one_did(
    engine,
) -> None:
    with session_scope(engine) as s:
        claimed = claim_record(s, FLOW, DIRECTION, "E", trace_id="t-1")
        s.flush()
    with _statements(engine) as seen, session_scope(engine) as s:
        first = claim_for_create(s, FLOW, DIRECTION, "E", trace_id="t-2")
    assert seen == ["SELECT", "UPDATE"]
    assert (first.record_id, first.target_key, first.put_sent) == (claimed.id, None, False)
    assert first.data == {"put_sent": True}
    with session_scope(engine) as s:
        record = find_by_source(s, FLOW, DIRECTION, "E")
        assert record is not None and record.data == {"put_sent": True}
        assert record.trace_id == "t-1" and record.status == Status.PENDING
    with _statements(engine) as seen, session_scope(engine) as s:
        again = claim_for_create(s, FLOW, DIRECTION, "E")  # a retry after the create went out
    assert seen == ["SELECT"]
    assert again.put_sent is True and again.record_id == claimed.id


def test_a_claim_for_create_inserts_a_missing_record_already_marked(engine) -> None:
    with _statements(engine) as seen, session_scope(engine) as s:
        claim = claim_for_create(s, FLOW, DIRECTION, "F", trace_id="t-9")
    assert seen == ["SELECT", "INSERT"]
    assert claim.put_sent is False and claim.target_key is None
    with session_scope(engine) as s:
        record = find_by_source(s, FLOW, DIRECTION, "F")
        assert record is not None and record.id == claim.record_id
        assert record.data == {"put_sent": True} and record.trace_id == "t-9"
        assert record.status == Status.PENDING and record.attempts == 0


def test_a_claim_for_create_of_a_linked_record_changes_nothing(engine) -> None:
    with session_scope(engine) as s:
        mark_synced(s, claim_record(s, FLOW, DIRECTION, "G"), target_key="SO/SO000011")
    with _statements(engine) as seen, session_scope(engine) as s:
        claim = claim_for_create(s, FLOW, DIRECTION, "G")
    assert seen == ["SELECT"]
    assert claim.target_key == "SO/SO000011" and claim.put_sent is False


def test_racing_claims_for_create_of_a_new_record_let_exactly_one_create(engine) -> None:
    def claim(_: int) -> tuple[int, bool]:
        with session_scope(engine) as s:
            got = claim_for_create(s, FLOW, DIRECTION, "race-2")
            return got.record_id, got.put_sent

    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(claim, range(16)))
    assert len({record_id for record_id, _ in claims}) == 1
    assert [put_sent for _, put_sent in claims].count(False) == 1


def test_a_link_of_a_claim_is_one_update_that_keeps_the_claims_data(engine) -> None:
    with session_scope(engine) as s:
        claim_record(s, FLOW, DIRECTION, "H")
    with session_scope(engine) as s:
        claim = claim_for_create(s, FLOW, DIRECTION, "H")
    updated_at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    with _statements(engine) as seen, session_scope(engine) as s:
        link_claimed(
            s,
            claim,
            target_key="SO/SO000012",
            content_hash="h-1",
            data={"status": "Open"},
            source_updated_at=updated_at,
            followup_due=True,
        )
    assert seen == ["UPDATE"]
    with session_scope(engine) as s:
        record = find_by_source(s, FLOW, DIRECTION, "H")
        assert record is not None and record.target_key == "SO/SO000012"
        assert record.status == Status.SYNCED and record.synced_at is not None
        assert record.data == {"put_sent": True, "status": "Open"}
        assert record.content_hash == "h-1" and record.followup_due is True
        assert record.source_updated_at.replace(tzinfo=UTC) == updated_at


def test_a_link_of_a_claim_whose_record_is_gone_claims_it_again(engine) -> None:
    """A ledger restored between the claim and the link: the link still lands."""
    with session_scope(engine) as s:
        claim = claim_for_create(s, FLOW, DIRECTION, "I")
    with session_scope(engine) as s:
        s.delete(s.get(SyncRecord, claim.record_id))
    with session_scope(engine) as s:
        link_claimed(s, claim, target_key="SO/SO000013", data={"status": "Open"})
    with session_scope(engine) as s:
        record = find_by_source(s, FLOW, DIRECTION, "I")
        assert record is not None and record.target_key == "SO/SO000013"
        assert record.data == {"put_sent": True, "status": "Open"}


def test_peek_reads_a_record_as_a_row(engine) -> None:
    with session_scope(engine) as s:
        mark_synced(s, claim_record(s, FLOW, DIRECTION, "J"), target_key="SO/SO000014")
    with session_scope(engine) as s:
        row = peek_by_source(s, FLOW, DIRECTION, "J")
        assert row is not None and row.target_key == "SO/SO000014"
        assert row.status == Status.SYNCED and row.data == {}
        assert peek_by_source(s, FLOW, DIRECTION, "K") is None


def test_claiming_many_records_is_one_statement_and_keeps_existing_rows(engine) -> None:
    with session_scope(engine) as s:
        mark_synced(s, claim_record(s, FLOW, DIRECTION, "L1"), target_key="SO/SO000015")
    with _statements(engine) as seen, session_scope(engine) as s:
        claim_records(s, FLOW, DIRECTION, ["L1", "L2", "L3"])
        claim_records(s, FLOW, DIRECTION, [])
    assert seen == ["INSERT"]
    with session_scope(engine) as s:
        rows = {
            r.source_id: r
            for r in s.scalars(select(SyncRecord).where(SyncRecord.source_id.like("L%")))
        }
    assert sorted(rows) == ["L1", "L2", "L3"]
    assert rows["L1"].target_key == "SO/SO000015" and rows["L1"].status == Status.SYNCED
    assert rows["L2"].status == Status.PENDING and rows["L2"].data == {}


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
