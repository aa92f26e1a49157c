"""The ledger: links between source records and their targets, statuses, runs and cursors."""

from sync_workers.ledger.db import get_engine, make_engine, session_scope
from sync_workers.ledger.models import Base, Cursor, Status, SyncRecord, SyncRun
from sync_workers.ledger.repository import (
    Claim,
    CursorStore,
    claim_for_create,
    claim_record,
    claim_records,
    find_by_source,
    find_by_target,
    link_claimed,
    linked_sources,
    mark_status,
    mark_synced,
    peek_by_source,
    restart_stalled,
)

__all__ = [
    "Base",
    "Claim",
    "Cursor",
    "CursorStore",
    "Status",
    "SyncRecord",
    "SyncRun",
    "claim_for_create",
    "claim_record",
    "claim_records",
    "find_by_source",
    "find_by_target",
    "get_engine",
    "link_claimed",
    "linked_sources",
    "make_engine",
    "mark_status",
    "mark_synced",
    "peek_by_source",
    "restart_stalled",
    "session_scope",
]
