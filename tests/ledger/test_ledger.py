"""Ledger constraints and migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from sync_workers.errors import PermanentError
from sync_workers.ledger import (
    CursorStore,
    Status,
    SyncRecord,
    claim_for_create,
    claim_record,
    claim_records,
    find_by_source,
    find_by_target,
    history,
    link_claimed,
    make_engine,
    mark_status,
    mark_synced,
    migrate,
    peek_by_source,
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
        assert record.status == Status.PENDING


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


def test_claiming_records_to_reopen_makes_those_that_exist_pending_again(engine) -> None:
    with session_scope(engine) as s:
        done = claim_record(s, "customers", "acumatica_to_xcart", "R1")
        mark_status(s, done, Status.SKIPPED, error="no e-mail")
        done.updated_at = datetime(2026, 1, 1, tzinfo=UTC)
    with _statements(engine) as seen, session_scope(engine) as s:
        claim_records(s, "customers", "acumatica_to_xcart", ["R1", "R2"], reopen=True)
    assert seen == ["INSERT"]
    with session_scope(engine) as s:
        rows = {
            r.source_id: r
            for r in s.scalars(select(SyncRecord).where(SyncRecord.source_id.like("R%")))
        }
    assert {k: r.status for k, r in rows.items()} == {"R1": Status.PENDING, "R2": Status.PENDING}
    assert rows["R1"].last_error is None
    assert rows["R1"].updated_at.replace(tzinfo=None) > datetime(2026, 1, 2)  # as of now


def test_same_source_id_may_exist_in_other_flows_and_directions(engine) -> None:
    with session_scope(engine) as s:
        ids = {
            claim_record(s, "orders", DIRECTION, "7").id,
            claim_record(s, "customers", DIRECTION, "7").id,
            claim_record(s, "customers", "acumatica_to_xcart", "7").id,
        }
    assert len(ids) == 3


def _run(source_id: str, at: datetime, outcome: str, **changes) -> history.Run:
    values = dict(
        flow=FLOW,
        direction=DIRECTION,
        source_id=source_id,
        task="tasks.orders.sync",
        task_id="t-1",
        attempt=1,
        steps=("fetch", "push"),
        outcome=outcome,
        error_class=None,
        error=None,
        trace_id="trace-9",
        started_at=at,
        duration_ms=12,
    )
    values.update(changes)
    return history.Run(**values)


def test_runs_are_written_in_one_statement_and_read_back_newest_first(engine) -> None:
    from sqlalchemy import event

    now = datetime.now(UTC)
    statements: list[str] = []

    def seen(conn, cursor, statement, *_) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    history.write(
        [
            _run("run-1", now - timedelta(seconds=5), "retry", error_class="TransientError",
                 error="503 " + "x" * 3000, attempt=1),
            _run("run-1", now, "ok", attempt=2),
            _run("run-2", now, "ok"),
        ],
        engine,
    )  # fmt: skip
    event.remove(engine, "before_cursor_execute", seen)

    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 1
    runs = history.runs_of(FLOW, DIRECTION, "run-1", engine=engine)
    assert [(r["outcome"], r["attempt"]) for r in runs] == [("ok", 2), ("retry", 1)]
    assert runs[1]["steps"] == "fetch,push" and runs[1]["trace_id"] == "trace-9"
    assert runs[1]["error"].startswith("503 ") and len(runs[1]["error"]) == history.ERROR_LIMIT


def test_pruning_drops_only_runs_older_than_the_cutoff(engine) -> None:
    now = datetime.now(UTC)
    history.write(
        [_run(f"old-{n}", now - timedelta(days=40), "ok") for n in range(3)]
        + [_run("new-1", now - timedelta(days=1), "ok")],
        engine,
    )

    assert history.prune(now - timedelta(days=30), engine) == 3
    assert history.runs_of(FLOW, DIRECTION, "old-0", engine=engine) == []
    assert len(history.runs_of(FLOW, DIRECTION, "new-1", engine=engine)) == 1
    assert history.prune(now - timedelta(days=30), engine) == 0


def test_cursors_are_upserted_per_flow_and_direction(engine) -> None:
    store = CursorStore(engine)
    assert store.get(FLOW, DIRECTION) is None
    store.set(FLOW, DIRECTION, "2026-11-27T05:00:00+00:00")
    store.set(FLOW, DIRECTION, "2026-11-27T06:00:00+00:00")
    store.set("inventory", "acumatica_to_xcart", "x")
    assert store.get(FLOW, DIRECTION) == "2026-11-27T06:00:00+00:00"
    assert store.get("inventory", "acumatica_to_xcart") == "x"


def test_a_cursor_update_reads_the_stored_value_and_a_failed_one_stores_nothing(engine) -> None:
    store = CursorStore(engine)
    seen: list[str | None] = []

    def append(suffix: str):
        def change(current: str | None) -> str:
            seen.append(current)
            return (current or "") + suffix

        return change

    def broken(current: str | None) -> str:
        raise ValueError("bad cursor state")

    assert store.update(FLOW, DIRECTION, append("a")) == "a"
    assert store.update(FLOW, DIRECTION, append("b")) == "ab"
    with pytest.raises(ValueError, match="bad cursor state"):
        store.update(FLOW, DIRECTION, broken)
    with pytest.raises(ValueError, match="bad cursor state"):
        store.update("inventory", "acumatica_to_xcart", broken)  # a first save that fails

    assert seen == [None, "a"]
    assert store.get(FLOW, DIRECTION) == "ab"
    assert store.get("inventory", "acumatica_to_xcart") is None


def test_migrations_upgrade_from_empty_and_downgrade_to_nothing(ledger_url) -> None:
    engine = make_engine(ledger_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"sync_records", "sync_runs", "cursors"} <= tables

        migrate.downgrade(ledger_url, "base")
        engine.dispose()
        assert migrate.current_revision(engine) is None
        assert not {"sync_records", "sync_runs", "cursors"} & set(inspect(engine).get_table_names())

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


def test_postgresql_connections_give_up_on_a_silent_server_before_the_soft_limit(
    postgres_url,
) -> None:
    """Connect, keepalive and user timeouts are set on every ledger connection to PostgreSQL
    (a cut-off server becomes a retryable error, not a step stuck until its soft limit); one
    given in the URL wins."""
    from sync_workers.ledger.db import POSTGRES_CONNECT_ARGS, make_engine

    for url, connect_timeout in ((postgres_url, "10"), (f"{postgres_url}?connect_timeout=3", "3")):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                params = connection.connection.dbapi_connection.info.get_parameters()
        finally:
            engine.dispose()
        assert params["connect_timeout"] == connect_timeout
        for name in ("keepalives", "keepalives_idle", "keepalives_count", "tcp_user_timeout"):
            assert params[name] == str(POSTGRES_CONNECT_ARGS[name])


def test_an_error_message_with_a_nul_is_kept_on_every_ledger(engine) -> None:
    """PostgreSQL's text columns refuse NUL; an error read from an API may carry one."""
    with session_scope(engine) as session:
        record = claim_record(session, FLOW, DIRECTION, "o-nul")
        record.last_error = "bad value 'A\x00B'"
    with session_scope(engine) as session:
        record = find_by_source(session, FLOW, DIRECTION, "o-nul")
        assert record is not None
        assert record.last_error == "bad value 'A\ufffdB'"
