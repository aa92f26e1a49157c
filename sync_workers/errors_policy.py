"""Which exceptions are worth retrying: the one place the base task asks.

Connectors already raise ``TransientError`` / ``PermanentError`` (their HTTP error table lives in
``sync_workers.connectors.errors``). This table covers what can escape from the engine itself.
"""

from __future__ import annotations

import sqlite3

from celery.exceptions import SoftTimeLimitExceeded
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

from sync_workers.errors import PermanentError, TransientError

# (exception type, reason) pairs: transient infrastructure trouble, retried with backoff.
TRANSIENT_EXCEPTIONS: tuple[tuple[type[BaseException], str], ...] = (
    (SoftTimeLimitExceeded, "the step ran past its soft time limit"),
    (RedisConnectionError, "Redis is unreachable"),
    (RedisTimeoutError, "Redis timed out"),
    (OperationalError, "the ledger database is unavailable"),
    (ConnectionError, "a connection failed"),
    (TimeoutError, "an operation timed out"),
)

# A statement names a table or column the ledger does not have: its schema is older than the
# code (or was never created). Retrying cannot help; migrating does.
UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})  # PostgreSQL undefined_table, undefined_column
SQLITE_UNDEFINED = ("no such table", "no such column", "has no column named")
MIGRATE_HINT = "run make migrate (python -m sync_workers.ledger upgrade)"


def ledger_schema_problem(exc: BaseException) -> str | None:
    """The database's own first line when ``exc`` says the ledger lacks a table or column."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    orig = exc.orig
    lines = str(orig).strip().splitlines()
    first = lines[0] if lines else type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in UNDEFINED_SQLSTATES:
        return first
    if isinstance(orig, sqlite3.OperationalError) and any(m in first for m in SQLITE_UNDEFINED):
        return first
    return None


def as_permanent(exc: BaseException) -> PermanentError | None:
    """The permanent form of an engine error that no retry can fix, or None."""
    problem = ledger_schema_problem(exc)
    if problem is None:
        return None
    return PermanentError(
        f"the ledger schema is not migrated ({problem}); {MIGRATE_HINT}",
        details={"cause": type(exc).__name__},
    )


def as_transient(exc: BaseException) -> TransientError | None:
    """The transient form of ``exc``, or None when it must not be retried."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, PermanentError) or ledger_schema_problem(exc) is not None:
        return None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return TransientError(
            "the ledger connection was lost", details={"cause": type(exc).__name__}
        )
    for kind, reason in TRANSIENT_EXCEPTIONS:
        if isinstance(exc, kind):
            return TransientError(f"{reason}: {exc}", details={"cause": type(exc).__name__})
    return None
