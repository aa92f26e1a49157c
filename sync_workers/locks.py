"""Per-record locks in Redis, so a webhook, a poll and a replay never work one record at once.

The lock is an efficiency guard, not the correctness guarantee (that is the ledger's unique
constraints and the remote check before a create). A busy record raises ``TransientError`` so the
base task retries it later instead of blocking a worker slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis.exceptions import LockError

from sync_workers.errors import TransientError
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.settings import get_settings


@contextmanager
def record_lock(flow: str, record_id: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold ``lock:<flow>:<record_id>`` for the block; raise ``TransientError`` when it is taken."""
    lock = get_redis().lock(
        prefixed("lock", flow, str(record_id)),
        timeout=get_settings().lock_timeout,
        blocking=wait > 0,
        blocking_timeout=wait or None,
    )
    if not lock.acquire():
        raise TransientError(
            f"{flow} record {record_id} is being processed by another worker",
            retry_after=1.0,
            details={"flow": flow, "record_id": str(record_id), "reason": "locked"},
        )
    try:
        yield
    finally:
        with suppress(LockError):  # expired while we worked: someone else may hold it now
            lock.release()
