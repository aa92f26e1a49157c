"""The ledger: links between source records and their targets, statuses, attempts and cursors."""

from sync_workers.ledger.db import get_engine, make_engine, session_scope
from sync_workers.ledger.models import Base, Cursor, Status, SyncAttempt, SyncRecord
from sync_workers.ledger.repository import (
    CursorStore,
    claim_record,
    claimed_record,
    find_by_source,
    find_by_target,
    mark_status,
    mark_synced,
    record_attempt,
    restart_stalled,
)

__all__ = [
    "Base",
    "Cursor",
    "CursorStore",
    "Status",
    "SyncAttempt",
    "SyncRecord",
    "claim_record",
    "claimed_record",
    "find_by_source",
    "find_by_target",
    "get_engine",
    "make_engine",
    "mark_status",
    "mark_synced",
    "record_attempt",
    "restart_stalled",
    "session_scope",
]
