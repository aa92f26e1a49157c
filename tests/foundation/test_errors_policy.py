"""The errors policy tells a ledger whose schema is not migrated from a ledger that is down.

Every exception here is raised by a real database: SQLite files and PostgreSQL schemas at no
revision or at an older one, a locked SQLite file, a closed port, a backend the server killed.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

import pytest
import redis
import sqlalchemy
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sync_workers.errors import PermanentError, TransientError
from sync_workers.errors_policy import as_permanent, as_transient
from sync_workers.ledger import migrate
from sync_workers.ledger.db import make_engine, session_scope
from sync_workers.ledger.models import SyncRecord
from sync_workers.settings import get_settings
from tests.foundation import sample_tasks as t
from tests.foundation.test_base_task import open_entries


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
    assert_transient(caught.value, "the ledger database is unavailable")


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

    assert caught.value.connection_invalidated
    assert as_permanent(caught.value) is None
    transient = as_transient(caught.value)
    assert str(transient) == "the ledger connection was lost"
    assert transient is not None and transient.details == {"cause": type(caught.value).__name__}


def test_a_task_on_an_unmigrated_ledger_is_dead_lettered_at_once_with_the_fix(
    tmp_path, redis_client, celery_worker, task_runs
) -> None:
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    t.read_ledger.apply_async(kwargs={"record_id": "schema-1", "url": url})

    [run] = task_runs.wait("schema-1", 1)
    [entry] = open_entries("schema-1")

    assert run.state == "FAILURE"  # not RETRY: no retry was sent
    assert len(t.notes("calls", "schema-1")) == 1
    assert entry.attempts == 1
    assert entry.error_class == "PermanentError"
    assert entry.error_message == (
        "the ledger schema is not migrated (no such table: sync_records); "
        "run make migrate (python -m sync_workers.ledger upgrade)"
    )


# -- what the engine itself can raise: the transient table, and what stays out of it -----------


def closed_port() -> int:
    """A local port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_transient(exc: BaseException, reason: str) -> None:
    transient = as_transient(exc)
    assert isinstance(transient, TransientError)
    assert str(transient) == f"{reason}: {exc}"
    assert transient.details == {"cause": type(exc).__name__}
    assert as_permanent(exc) is None


def test_an_unreachable_redis_is_retried() -> None:
    client = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=2, retry=None)
    with pytest.raises(redis.ConnectionError) as caught:
        client.ping()

    assert_transient(caught.value, "Redis is unreachable")


def test_a_redis_that_does_not_answer_in_time_is_retried(redis_url) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=0.2, retry=None)
    nothing = get_settings().redis_key_prefix + f"errors-policy:{uuid.uuid4().hex}"
    try:
        with pytest.raises(redis.TimeoutError) as caught:
            client.blpop([nothing], timeout=5)  # nothing is ever pushed: the socket times out
    finally:
        client.close()

    assert_transient(caught.value, "Redis timed out")


def test_a_refused_socket_connection_is_retried() -> None:
    with pytest.raises(ConnectionRefusedError) as caught:
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2)

    assert_transient(caught.value, "a connection failed")


def test_a_socket_read_that_times_out_is_retried() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with (
            socket.create_connection(server.getsockname(), timeout=0.2) as conn,
            pytest.raises(TimeoutError) as caught,
        ):
            conn.recv(1)  # the server never writes

    assert_transient(caught.value, "an operation timed out")


def test_a_step_past_its_soft_time_limit_is_retried() -> None:
    exc = SoftTimeLimitExceeded("SoftTimeLimitExceeded(True,)")

    assert_transient(exc, "the step ran past its soft time limit")


def test_a_transient_error_is_kept_as_it_is() -> None:
    exc = TransientError("Acumatica answered 503", details={"status": 503})

    assert as_transient(exc) is exc
    assert as_permanent(exc) is None


def test_a_permanent_error_is_never_retried() -> None:
    exc = PermanentError("'NOPE' cannot be found in the system.")

    assert as_transient(exc) is None
    assert as_permanent(exc) is None  # already permanent: nothing to convert


def test_a_duplicate_ledger_row_is_neither_retried_nor_called_a_schema_problem(
    ledger_url,
) -> None:
    exc = raised(ledger_url, lambda session: [write_record(session) for _ in range(2)])

    assert isinstance(exc, IntegrityError)
    assert as_transient(exc) is None
    assert as_permanent(exc) is None


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad quantity"), KeyError("sku"), TypeError("None is not a number")],
    ids=["ValueError", "KeyError", "TypeError"],
)
def test_a_programming_error_is_not_retried(exc) -> None:
    assert as_transient(exc) is None
    assert as_permanent(exc) is None
