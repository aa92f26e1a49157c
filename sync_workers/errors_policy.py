"""Which exceptions are worth retrying: the one place the base task asks.

Connectors already raise ``TransientError`` / ``PermanentError`` (their HTTP error table lives in
``sync_workers.connectors.errors``). This table covers what can escape from the engine itself.
"""

from __future__ import annotations

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


def as_transient(exc: BaseException) -> TransientError | None:
    """The transient form of ``exc``, or None when it must not be retried."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, PermanentError):
        return None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return TransientError(
            "the ledger connection was lost", details={"cause": type(exc).__name__}
        )
    for kind, reason in TRANSIENT_EXCEPTIONS:
        if isinstance(exc, kind):
            return TransientError(f"{reason}: {exc}", details={"cause": type(exc).__name__})
    return None
