"""The errors policy tells a ledger whose schema is not migrated from a ledger that is down.

Every exception here is raised by a real database: SQLite files and PostgreSQL schemas at no
revision or at an older one, a locked SQLite file, a closed port, a backend the server killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlalchemy
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from sync_workers.errors import PermanentError
from sync_workers.errors_policy import as_permanent, as_transient
from sync_workers.ledger import migrate
from sync_workers.ledger.db import make_engine, session_scope
from sync_workers.ledger.models import SyncRecord
from tests.foundation import sample_tasks as t
from tests.foundation.test_base_task import open_entries, wait_for


def raised(url: str, action: Callable[[sqlalchemy.orm.Session], object]) -> SQLAlchemyError:
    engine = make_engine(url)
    try:
        with pytest.raises(SQLAlchemyError) as caught, session_scope(engine) as session:
            action(session)
    finally:
        engine.dispose()
    return caught.value


def read_records(session: sqlalchemy.orm.Session) -> object:
    return session.scalars(select(SyncRecord)).all()


def write_record(session: sqlalchemy.orm.Session) -> object:
    session.add(SyncRecord(flow="orders", direction="xcart_to_acumatica", source_id="1"))
    session.flush()
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    """A ledger nobody migrated: an empty SQLite file, a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("postgres_schema_url")


def assert_schema_problem(exc: SQLAlchemyError, missing: str) -> None:
    permanent = as_permanent(exc)
    assert as_transient(exc) is None
    assert isinstance(permanent, PermanentError)
    assert str(permanent).startswith("the ledger schema is not migrated")
    assert missing in str(permanent)
    assert "make migrate" in str(permanent)
    assert "python -m sync_workers.ledger upgrade" in str(permanent)
    assert "[SQL" not in str(permanent)  # the statement and its parameters stay out
    assert permanent.details["cause"] == type(exc).__name__


def test_a_missing_table_is_a_permanent_schema_error_not_an_outage(empty_url) -> None:
    exc = raised(empty_url, read_records)

    assert_schema_problem(exc, "sync_records")


def without_followup_due(url: str) -> None:
    """A ledger whose schema lacks a column the code uses (as one migrated by an older engine)."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_sync_records_flow_direction_followup_due"))
            conn.execute(text("ALTER TABLE sync_records DROP COLUMN followup_due"))
    finally:
        engine.dispose()


def test_a_missing_column_is_a_permanent_schema_error_not_an_outage(empty_url) -> None:
    without_followup_due(empty_url)

    exc = raised(empty_url, read_records)

    assert_schema_problem(exc, "followup_due")


def test_writing_a_column_the_ledger_lacks_is_a_permanent_schema_error(empty_url) -> None:
    without_followup_due(empty_url)

    exc = raised(empty_url, write_record)

    assert_schema_problem(exc, "followup_due")


def test_a_locked_sqlite_ledger_stays_transient(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)
    holder = sqlalchemy.create_engine(url, connect_args={"timeout": 0.1})
    waiter = sqlalchemy.create_engine(url, connect_args={"timeout": 0.1})
    try:
        with holder.connect() as held:
            held.exec_driver_sql("BEGIN EXCLUSIVE")
            with pytest.raises(SQLAlchemyError) as caught, waiter.begin() as conn:
                conn.execute(text("delete from cursors"))
            held.exec_driver_sql("ROLLBACK")
    finally:
        holder.dispose()
        waiter.dispose()

    assert "database is locked" in str(caught.value)
    assert as_permanent(caught.value) is None
    assert as_transient(caught.value) is not None


def test_a_refused_postgres_connection_stays_transient(postgres_url) -> None:
    closed_port = make_engine("postgresql://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(SQLAlchemyError) as caught:
            closed_port.connect()
    finally:
        closed_port.dispose()

    assert as_permanent(caught.value) is None
    transient = as_transient(caught.value)
    assert transient is not None
    assert str(transient).startswith("the ledger database is unavailable")


def test_a_postgres_connection_the_server_closed_stays_transient(postgres_url) -> None:
    engine = make_engine(postgres_url)
    admin = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
            with admin.begin() as killer:
                killer.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(SQLAlchemyError) as caught:
                conn.execute(text("select 1"))
    finally:
        engine.dispose()
        admin.dispose()

    assert as_permanent(caught.value) is None
    assert as_transient(caught.value) is not None


def test_a_task_on_an_unmigrated_ledger_is_dead_lettered_at_once_with_the_fix(
    tmp_path, redis_client, celery_worker
) -> None:
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    t.read_ledger.apply_async(kwargs={"record_id": "schema-1", "url": url})

    [entry] = wait_for(lambda: open_entries("schema-1"))
    time.sleep(0.5)  # a retry would run now

    assert len(t.notes("calls", "schema-1")) == 1
    assert entry.attempts == 1
    assert entry.error_class == "PermanentError"
    assert entry.error_message == (
        "the ledger schema is not migrated (no such table: sync_records); "
        "run make migrate (python -m sync_workers.ledger upgrade)"
    )
