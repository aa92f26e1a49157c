"""Ledger tables: what was synced, where it went, each run of each record's chain, cursors.

A ``SyncRecord`` is one source record in one flow and direction. Its unique constraints are the
backbone of exactly-once effects: one row per source record, one per target key. A ``SyncRun`` is
one task run of a record's chain (its history), kept for ``HISTORY_RETENTION_DAYS``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s_%(column_2_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class FreeText(TypeDecorator[str]):
    """Text from outside (error messages): a NUL, which PostgreSQL's text columns refuse, is
    stored as U+FFFD, so the same message is kept on every ledger."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.replace("\x00", "\ufffd")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Status(enum.StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"


class SyncRecord(Base):
    __tablename__ = "sync_records"
    __table_args__ = (
        UniqueConstraint("flow", "direction", "source_id"),
        UniqueConstraint("flow", "direction", "target_key"),
        Index("ix_sync_records_flow_status", "flow", "status"),
        Index("ix_sync_records_flow_direction_followup_due", "flow", "direction", "followup_due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(48))
    source_id: Mapped[str] = mapped_column(String(191))
    target_key: Mapped[str | None] = mapped_column(String(191))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING.value)
    last_error: Mapped[str | None] = mapped_column(FreeText)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    synced_at: Mapped[datetime | None]
    #: Something that hangs on this record is to be checked again: for an order, its payments
    #: (set whenever the order is linked or changes, cleared when all its payments are found
    #: synced). Indexed, so a poll finds the few due among every order ever synced.
    followup_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return (
            f"SyncRecord({self.flow}/{self.direction} {self.source_id!r} -> {self.target_key!r},"
            f" {self.status})"
        )


class SyncRun(Base):
    """One task run of a record's chain: the steps it ran and how it ended.

    Keyed by the record's flow, direction and source id (not the row id), so a run is written in
    one INSERT without reading its record first; the chains of several records that one task runs
    (an order and its payments) are written in the same statement.
    """

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_record", "flow", "direction", "source_id", "started_at"),
        Index("ix_sync_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(48))
    source_id: Mapped[str] = mapped_column(String(191))
    task: Mapped[str] = mapped_column(String(96))
    task_id: Mapped[str | None] = mapped_column(String(64))
    #: 1 for the first delivery, 2 for the first retry…
    attempt: Mapped[int] = mapped_column(Integer)
    #: The steps that ran, comma-separated, the last one being where the run ended.
    steps: Mapped[str] = mapped_column(String(255))
    #: ``ok``, ``skipped``, ``retry``, ``failed`` (dead-lettered), ``handed_over`` (an inline
    #: chain that failed and continues as its own task), ``requeued``, ``dropped``.
    outcome: Mapped[str] = mapped_column(String(16))
    error_class: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(FreeText)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)


class Cursor(Base):
    __tablename__ = "cursors"

    flow: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
